"""Visitors: a visit's events, its recommendations, and its move to an account."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from tests.conftest import GraphQLClient

START = "mutation { startVisit { token errors { code } } }"
RECORD = """mutation($id: ID!, $type: InteractionType!, $key: String) {
  recordInteraction(productId: $id, type: $type, clientEventId: $key) {
    interaction { id } errors { field code }
  }
}"""
BATCH = """mutation($events: [InteractionInput!]!) {
  recordInteractions(events: $events) { stored errors { field code } }
}"""
RECOMMEND = "{ recommendations(first: 10) { product { id } reasons { kind detail } } }"
ACTIVITY = """{ me { id username role interactions(first: 50) {
  edges { node { type product { id } } } } } }"""
REGISTER = """mutation($u: String!, $e: String!, $p: String!) {
  register(username: $u, email: $e, password: $p) {
    token mergedEvents user { id username role } errors { field code }
  }
}"""
LOGIN = """mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) { token mergedEvents errors { field code } }
}"""
PASSWORD = "correct-horse-battery"


async def start_visit(client: GraphQLClient) -> str:
    payload = (await client.data(START))["startVisit"]
    assert payload["errors"] == []
    return str(payload["token"])


async def some_products(client: GraphQLClient, count: int) -> list[str]:
    page = await client.data("{ products(first: 30) { edges { node { id } } } }")
    return [edge["node"]["id"] for edge in page["products"]["edges"]][10 : 10 + count]


def recommended(body: dict[str, Any]) -> list[str]:
    return [item["product"]["id"] for item in body["recommendations"]]


async def post_with(client: GraphQLClient, query: str, variables: dict, token: str) -> dict:
    return (await client.post(query, variables, token)).json()


async def test_a_visit_records_events_gets_picks_from_them_and_moves_to_the_new_account(
    client: GraphQLClient,
) -> None:
    visitor = await start_visit(client)
    me = (await client.data(ACTIVITY, token=visitor))["me"]
    assert me["role"] == "VISITOR" and me["username"] is None
    trending = recommended(await client.data(RECOMMEND, token=visitor))
    assert trending, "trending products before the visit has events"

    viewed = await some_products(client, 3)
    recorded = await client.data(RECORD, {"id": viewed[0], "type": "VIEW"}, visitor)
    assert recorded["recordInteraction"]["errors"] == []
    events = [
        {"productId": pid, "type": "VIEW", "clientEventId": f"v-{i}"}
        for i, pid in enumerate(viewed[1:])
    ]
    assert (await client.data(BATCH, {"events": events}, visitor))["recordInteractions"][
        "stored"
    ] == 2

    picks = await client.data(RECOMMEND, token=visitor)
    assert recommended(picks) != trending
    details = [reason["detail"] for item in picks["recommendations"] for reason in item["reasons"]]
    assert any("you viewed" in detail for detail in details), details

    username = f"vis-{uuid.uuid4().hex[:8]}"
    registered = (
        await post_with(
            client,
            REGISTER,
            {"u": username, "e": f"{username}@example.com", "p": PASSWORD},
            visitor,
        )
    )["data"]["register"]
    assert registered["errors"] == [] and registered["mergedEvents"] == 3
    assert registered["user"]["role"] == "CUSTOMER"
    token = registered["token"]

    activity = (await client.data(ACTIVITY, token=token))["me"]["interactions"]["edges"]
    assert sorted(edge["node"]["product"]["id"] for edge in activity) == sorted(viewed)
    assert recommended(await client.data(RECOMMEND, token=token)) == recommended(picks)

    for query in (ACTIVITY, RECOMMEND):
        refused = await client.post(query, token=visitor)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    again = await client.post(
        REGISTER, {"u": f"{username}x", "e": f"x{username}@example.com", "p": PASSWORD}, visitor
    )
    assert again.status_code == 401


async def test_signing_in_with_a_visit_moves_its_events_without_duplicates(
    client: GraphQLClient,
) -> None:
    products = await some_products(client, 3)
    username = f"back-{uuid.uuid4().hex[:8]}"
    customer = (
        await client.data(REGISTER, {"u": username, "e": f"{username}@example.com", "p": PASSWORD})
    )["register"]["token"]
    await client.data(RECORD, {"id": products[0], "type": "CART_ADD", "key": "same"}, customer)
    before = recommended(await client.data(RECOMMEND, token=customer))

    visitor = await start_visit(client)
    for key, product in (("same", products[0]), ("other", products[1]), (None, products[2])):
        await client.data(RECORD, {"id": product, "type": "CART_ADD", "key": key}, visitor)
    login = (await post_with(client, LOGIN, {"u": username, "p": PASSWORD}, visitor))["data"][
        "login"
    ]
    assert login["errors"] == [] and login["mergedEvents"] == 2

    activity = (await client.data(ACTIVITY, token=customer))["me"]["interactions"]["edges"]
    assert sorted(edge["node"]["product"]["id"] for edge in activity) == sorted(products)
    assert recommended(await client.data(RECOMMEND, token=customer)) != before
    assert (await client.post(RECOMMEND, token=visitor)).status_code == 401


async def test_visitors_see_only_their_own_data(client: GraphQLClient) -> None:
    visitor = await start_visit(client)
    other = await start_visit(client)
    products = await some_products(client, 1)
    event = (await client.data(RECORD, {"id": products[0], "type": "VIEW"}, other))[
        "recordInteraction"
    ]["interaction"]["id"]
    other_id = (await client.data("{ me { id } }", token=other))["me"]["id"]
    _, customer_id = await client.register("private")

    for target in (other_id, customer_id):
        body = await client.query(
            "query($id: ID!) { user(id: $id) { id } }", {"id": target}, visitor
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        body = await client.query(
            "query($id: ID!) { recommendations(userId: $id) { rank } }", {"id": target}, visitor
        )
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    node = await client.query("query($id: ID!) { node(id: $id) { id } }", {"id": event}, visitor)
    assert node["data"]["node"] is None
    body = await client.query("{ users(first: 5) { edges { node { id } } } }", token=visitor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await client.query("{ modelInfo { version } }", token=visitor)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await client.data(ACTIVITY, token=visitor))["me"]["interactions"]["edges"] == []


async def test_forged_and_expired_visitor_tokens_are_refused(
    client: GraphQLClient,
) -> None:
    visitor = await start_visit(client)
    settings = client.app.state.services.settings
    claims = jwt.decode(visitor, options={"verify_signature": False})
    forged = jwt.encode({**claims, "role": "admin"}, "x" * 40, algorithm="HS256")
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, settings.jwt_secret, "HS256")
    for token in (forged, expired):
        response = await client.post(RECOMMEND, token=token)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_visitor_cannot_sign_in_by_password(client: GraphQLClient) -> None:
    visitor = await start_visit(client)
    me = (await client.data("{ me { id username } }", token=visitor))["me"]
    assert me["username"] is None
    for username in ("", "None", "null"):
        payload = (await client.data(LOGIN, {"u": username, "p": PASSWORD}))["login"]
        assert payload["token"] is None
        assert payload["errors"][0]["code"] == "UNAUTHENTICATED"


async def test_visitors_whose_token_expired_and_who_left_nothing_are_deleted(
    client: GraphQLClient,
) -> None:
    """`startVisit` from a bot leaves only empty visitors: once their token has expired the
    trainer deletes them; a visitor with events, and a fresh one, stay."""
    from sqlalchemy import select, update

    from app.models import User
    from app.services.users import delete_idle_visitors

    def user_id(token: str) -> int:
        return int(jwt.decode(token, options={"verify_signature": False})["sub"])

    empty, with_events, fresh = [await start_visit(client) for _ in range(3)]
    product = (await some_products(client, 1))[0]
    body = await post_with(client, RECORD, {"id": product, "type": "VIEW"}, with_events)
    assert body["data"]["recordInteraction"]["errors"] == []

    services = client.app.state.services
    ttl = services.settings.visitor_token_ttl_days
    old = {user_id(empty), user_id(with_events)}
    long_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=ttl + 1)
    async with services.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id.in_(old)).values(created_at=long_ago))
    assert await delete_idle_visitors(services.sessions, ttl) == 1
    everyone = old | {user_id(fresh)}
    async with services.sessions() as session:
        left = set(await session.scalars(select(User.id).where(User.id.in_(everyone))))
    assert left == {user_id(with_events), user_id(fresh)}
    assert await delete_idle_visitors(services.sessions, ttl) == 0


async def test_events_of_a_visit_that_ended_meanwhile_are_refused_and_store_nothing(
    client: GraphQLClient,
) -> None:
    """A call that reached the event writer after its visit moved to an account (the token
    check passed just before) stores nothing for the visitor, next to a customer's call."""
    from app.auth import decode_token
    from app.errors import ErrorCode, ServiceError
    from app.services.events import EventInput
    from schema.types.common import decode_id

    products = [decode_id(pid, "Product") for pid in await some_products(client, 2)]
    visitor = await start_visit(client)
    await client.data(RECORD, {"id": (await some_products(client, 1))[0], "type": "VIEW"}, visitor)
    username = f"ended-{uuid.uuid4().hex[:8]}"
    register = await post_with(
        client, REGISTER, {"u": username, "e": f"{username}@example.com", "p": PASSWORD}, visitor
    )
    account = register["data"]["register"]
    settings = client.app.state.services.settings
    visitor_id = decode_token(settings, visitor).user_id
    account_id = decode_token(settings, account["token"]).user_id
    events = client.app.state.services.events
    event = EventInput(products[0], "view", 1, None, "late")
    refused, stored = await asyncio.gather(
        events.record_batch(visitor_id, [event, EventInput(products[1], "click")]),
        events.record_batch(account_id, [event]),
        return_exceptions=True,
    )
    assert isinstance(refused, ServiceError) and refused.code == ErrorCode.UNAUTHENTICATED
    assert not isinstance(stored, BaseException)
    assert [item.new for item in stored.recorded] == [True]
    history = await events.history(visitor_id, 10, None)
    assert history.items == []
