"""Registering, signing in, recording events and reading one's own history."""

import asyncio
import time
import uuid
from typing import Any

from tests.conftest import GraphQLClient

REGISTER = """mutation($u: String!, $e: String!, $p: String!) {
  register(username: $u, email: $e, password: $p) {
    token user { id username email role } errors { field message code }
  }
}"""
LOGIN = """mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) { token user { username } errors { field code } }
}"""
RECORD = """mutation($id: ID!, $type: InteractionType!, $q: Int) {
  recordInteraction(productId: $id, type: $type, quantity: $q) {
    interaction { id type quantity product { sku } user { username } }
    errors { field code message }
  }
}"""
HISTORY = """query($first: Int!, $after: String, $type: InteractionType) {
  me { username interactions(first: $first, after: $after, type: $type) {
    edges { cursor node { type quantity product { sku name } } }
    pageInfo { hasNextPage endCursor }
  } }
}"""


async def some_product(client: GraphQLClient, index: int = 0) -> dict:
    page = await client.data("{ products(first: 10) { edges { node { id sku } } } }")
    return page["products"]["edges"][index]["node"]


async def test_register_then_login_and_read_me(client: GraphQLClient) -> None:
    username = f"ann-{uuid.uuid4().hex[:8]}"
    registered = (
        await client.data(
            REGISTER, {"u": username, "e": f"{username}@Example.com", "p": "a long passphrase"}
        )
    )["register"]
    assert registered["errors"] == []
    assert registered["user"]["role"] == "CUSTOMER"
    assert registered["user"]["email"] == f"{username}@example.com"

    login = (await client.data(LOGIN, {"u": username, "p": "a long passphrase"}))["login"]
    assert login["errors"] == [] and login["user"]["username"] == username
    me = await client.data("{ me { username } }", token=login["token"])
    assert me["me"]["username"] == username
    assert (await client.data("{ me { username } }"))["me"] is None


async def test_registration_problems_come_back_as_typed_errors(client: GraphQLClient) -> None:
    token, _ = await client.register("taken")
    taken = (await client.data("{ me { username email } }", token=token))["me"]
    cases = [
        (
            {"u": taken["username"], "e": "new@example.com", "p": "long enough pw"},
            "username",
            "CONFLICT",
        ),
        ({"u": "fresh-name-1", "e": taken["email"], "p": "long enough pw"}, "email", "CONFLICT"),
        ({"u": "fresh-name-2", "e": "x@example.com", "p": "short"}, "password", "BAD_USER_INPUT"),
        (
            {"u": "no spaces!", "e": "y@example.com", "p": "long enough pw"},
            "username",
            "BAD_USER_INPUT",
        ),
        (
            {"u": "fresh-name-3", "e": "not-an-email", "p": "long enough pw"},
            "email",
            "BAD_USER_INPUT",
        ),
    ]
    for variables, field, code in cases:
        payload = (await client.data(REGISTER, variables))["register"]
        assert payload["token"] is None and payload["user"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]


async def test_wrong_password_and_unknown_user_look_the_same(client: GraphQLClient) -> None:
    token, _ = await client.register("pw")
    username = (await client.data("{ me { username } }", token=token))["me"]["username"]
    wrong = (await client.data(LOGIN, {"u": username, "p": "not the password"}))["login"]
    unknown = (await client.data(LOGIN, {"u": "nobody-here", "p": "not the password"}))["login"]
    assert (
        wrong
        == unknown
        == {
            "token": None,
            "user": None,
            "errors": [{"field": "password", "code": "UNAUTHENTICATED"}],
        }
    )


async def test_recorded_purchase_shows_in_own_history(client: GraphQLClient) -> None:
    token, _ = await client.register("buyer")
    product = await some_product(client, 3)
    payload = (await client.data(RECORD, {"id": product["id"], "type": "PURCHASE", "q": 2}, token))[
        "recordInteraction"
    ]
    assert payload["errors"] == []
    assert payload["interaction"]["type"] == "PURCHASE"
    assert payload["interaction"]["quantity"] == 2
    assert payload["interaction"]["product"]["sku"] == product["sku"]
    await client.data(RECORD, {"id": product["id"], "type": "VIEW"}, token)

    history = (await client.data(HISTORY, {"first": 10}, token))["me"]["interactions"]
    assert [(e["node"]["type"], e["node"]["product"]["sku"]) for e in history["edges"]] == [
        ("VIEW", product["sku"]),
        ("PURCHASE", product["sku"]),
    ]
    purchases = (await client.data(HISTORY, {"first": 10, "type": "PURCHASE"}, token))["me"]
    assert len(purchases["interactions"]["edges"]) == 1


async def test_history_pages_with_cursors(client: GraphQLClient) -> None:
    token, _ = await client.register("pager")
    product = await some_product(client)
    for _ in range(5):
        await client.data(RECORD, {"id": product["id"], "type": "CLICK"}, token)
    seen = 0
    after = None
    while True:
        page = (await client.data(HISTORY, {"first": 2, "after": after}, token))["me"]
        connection = page["interactions"]
        seen += len(connection["edges"])
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == 5


async def test_bad_events_are_refused_and_change_nothing(client: GraphQLClient) -> None:
    token, _ = await client.register("bad")
    product = await some_product(client)
    zero = await client.data(RECORD, {"id": product["id"], "type": "PURCHASE", "q": 0}, token)
    assert [(e["field"], e["code"]) for e in zero["recordInteraction"]["errors"]] == [
        ("quantity", "BAD_USER_INPUT")
    ]
    missing = await client.data(RECORD, {"id": "UHJvZHVjdDo5OTk5OTk=", "type": "VIEW"}, token)
    assert [(e["field"], e["code"]) for e in missing["recordInteraction"]["errors"]] == [
        ("productId", "NOT_FOUND")
    ]
    garbage = await client.data(RECORD, {"id": "nonsense", "type": "VIEW"}, token)
    assert garbage["recordInteraction"]["errors"][0]["field"] == "productId"
    history = (await client.data(HISTORY, {"first": 10}, token))["me"]["interactions"]
    assert history["edges"] == []


async def test_anonymous_events_are_refused(client: GraphQLClient) -> None:
    product = await some_product(client)
    body = await client.query(RECORD, {"id": product["id"], "type": "VIEW"})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_customers_read_only_themselves_admins_read_anyone(client: GraphQLClient) -> None:
    token_a, id_a = await client.register("a")
    token_b, id_b = await client.register("b")
    query = "query($id: ID!) { user(id: $id) { username } }"
    assert (await client.data(query, {"id": id_a}, token_a))["user"]["username"].startswith("a-")
    refused = await client.query(query, {"id": id_a}, token_b)
    assert refused["data"] == {"user": None}
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    node = await client.query("query($id: ID!) { node(id: $id) { id } }", {"id": id_a}, token_b)
    assert node["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listing = await client.query(
        "{ users(first: 5) { edges { node { username } } } }", token=token_a
    )
    assert listing["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    admin = await client.admin_token()
    assert (await client.data(query, {"id": id_b}, admin))["user"]["username"].startswith("b-")
    users = await client.data("{ users(first: 100) { edges { node { username } } } }", token=admin)
    assert len(users["users"]["edges"]) == 100


async def test_forged_and_expired_tokens_are_refused(client: GraphQLClient) -> None:
    import jwt

    settings = client.app.state.services.settings
    forged = jwt.encode(
        {"sub": "1", "role": "admin"}, "not-the-secret-of-this-server-at-all", algorithm="HS256"
    )
    expired = jwt.encode(
        {
            "sub": "1",
            "role": "admin",
            "exp": 1,
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
        },
        settings.jwt_secret,
        algorithm="HS256",
    )
    for token in (forged, expired, "garbage"):
        response = await client.post("{ me { username } }", token=token)
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_that_worked_is_refused_once_it_expires(client: GraphQLClient) -> None:
    """Verified tokens are remembered between requests; their expiry is still checked."""
    from app.auth import issue_token

    token, user_id = await client.register("expiring")
    settings = client.app.state.services.settings
    short = issue_token(settings, int(jwt_claims(token)["sub"]), "customer", ttl_minutes=2 / 60)
    assert (await client.data("{ me { id } }", token=short))["me"]["id"] == user_id
    claims = jwt_claims(short)
    await asyncio.sleep(max(0.0, claims["exp"] - time.time()) + 1.1)
    response = await client.post("{ me { id } }", token=short)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def jwt_claims(token: str) -> dict[str, Any]:
    import jwt

    return dict(jwt.decode(token, options={"verify_signature": False}))
