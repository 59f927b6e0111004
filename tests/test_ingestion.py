"""The event write path: group commit, batches with client event ids, bad input, outages."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from app.models import Interaction
from app.services.events import EventInput
from app.settings import Settings
from schema.types.common import decode_id
from tests.conftest import GraphQLClient, running_client
from tests.tcp_proxy import TcpProxy

RECORD = """mutation($id: ID!, $type: InteractionType!, $key: String) {
  recordInteraction(productId: $id, type: $type, clientEventId: $key) {
    interaction { id } errors { field code message }
  }
}"""
BATCH = """mutation($events: [InteractionInput!]!) {
  recordInteractions(events: $events) {
    stored
    results { index clientEventId new interaction { id type quantity } }
    errors { index field code message }
  }
}"""
ME = "{ me { id } }"


@pytest.fixture(scope="module")
async def ingest(sample_database_url: str) -> AsyncIterator[GraphQLClient]:
    """A client of an app of its own (the commit counter sees only this app's engine)."""
    settings = Settings(database_url=sample_database_url, rate_limit_points_per_minute=0)
    async with running_client(settings) as client:
        yield client


async def product_ids(client: GraphQLClient, count: int = 20) -> list[str]:
    page = await client.data(
        "query($n: Int!) { products(first: $n) { edges { node { id } } } }", {"n": count}
    )
    return [edge["node"]["id"] for edge in page["products"]["edges"]]


async def stored_events(client: GraphQLClient, token: str) -> list[tuple[int, str | None]]:
    """(product id, client event id) of every stored event of the token's user, by id."""
    user_id = await user_of(client, token)
    services = client.app.state.services
    async with services.sessions() as session:
        rows = await session.execute(
            select(Interaction.product_id, Interaction.client_event_id)
            .where(Interaction.user_id == user_id)
            .order_by(Interaction.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def user_of(client: GraphQLClient, token: str) -> int:
    from app.auth import decode_token

    return decode_token(client.app.state.services.settings, token).user_id


def batch_event(product_id: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "productId": product_id,
        "type": "VIEW",
        "clientEventId": key or uuid.uuid4().hex,
        **extra,
    }


async def test_concurrent_events_are_committed_together_and_each_stored_once(
    ingest: GraphQLClient,
) -> None:
    token, _ = await ingest.register("group")
    products = await product_ids(ingest, 50)
    engine = ingest.app.state.services.engine
    commits = 0

    def count(_connection: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(engine.sync_engine, "commit", count)
    try:
        bodies = await asyncio.gather(
            *(ingest.query(RECORD, {"id": pid, "type": "CLICK"}, token) for pid in products)
        )
    finally:
        event.remove(engine.sync_engine, "commit", count)
    ids = [body["data"]["recordInteraction"]["interaction"]["id"] for body in bodies]
    assert all(body["data"]["recordInteraction"]["errors"] == [] for body in bodies)
    assert len(set(ids)) == 50
    stored = await stored_events(ingest, token)
    assert sorted(pid for pid, _ in stored) == sorted(decode_id(pid, "Product") for pid in products)
    assert 1 <= commits < 50, commits


async def test_a_retried_batch_stores_each_event_once_and_reports_what_was_new(
    ingest: GraphQLClient,
) -> None:
    token, _ = await ingest.register("retry")
    products = await product_ids(ingest, 10)
    events = [batch_event(pid, f"k-{i}") for i, pid in enumerate(products)]
    first = (await ingest.data(BATCH, {"events": events[:6]}, token))["recordInteractions"]
    assert first["errors"] == [] and first["stored"] == 6
    assert [item["new"] for item in first["results"]] == [True] * 6

    retried = (await ingest.data(BATCH, {"events": events}, token))["recordInteractions"]
    assert retried["stored"] == 4
    assert [item["new"] for item in retried["results"]] == [False] * 6 + [True] * 4
    assert [item["clientEventId"] for item in retried["results"]] == [f"k-{i}" for i in range(10)]
    same = [item["interaction"]["id"] for item in retried["results"][:6]]
    assert same == [item["interaction"]["id"] for item in first["results"]]

    again = (await ingest.data(BATCH, {"events": events}, token))["recordInteractions"]
    assert again["stored"] == 0
    stored = await stored_events(ingest, token)
    assert sorted(key for _, key in stored) == sorted(f"k-{i}" for i in range(10))

    single = await ingest.data(RECORD, {"id": products[0], "type": "VIEW", "key": "k-0"}, token)
    assert single["recordInteraction"]["interaction"]["id"] == same[0]
    assert len(await stored_events(ingest, token)) == 10


async def test_identical_events_without_keys_are_each_stored(ingest: GraphQLClient) -> None:
    token, _ = await ingest.register("twins")
    products = await product_ids(ingest, 1)
    user_id = await user_of(ingest, token)
    moment = datetime.now(UTC) - timedelta(minutes=1)
    same = EventInput(decode_id(products[0], "Product"), "view", 1, moment, None)
    results = await asyncio.gather(
        *(ingest.app.state.services.events.record_batch(user_id, [same, same]) for _ in range(3))
    )
    ids = [item.interaction.id for result in results for item in result.recorded]
    assert all(item.new for result in results for item in result.recorded)
    assert len(set(ids)) == 6
    assert len(await stored_events(ingest, token)) == 6


async def create_product(client: GraphQLClient, admin: str, name: str) -> str:
    """The id of a new product named `name` with a random SKU."""
    created = await client.data(
        "mutation($sku: String!, $name: String!) { createProduct(input: {sku: $sku, "
        "name: $name, price: 1}) { product { id } } }",
        {"sku": f"SKU-{uuid.uuid4().hex[:8]}", "name": name},
        token=admin,
    )
    return created["createProduct"]["product"]["id"]


async def archive_product(client: GraphQLClient, admin: str, product: str) -> None:
    await client.data(
        "mutation($id: ID!) { deleteProduct(id: $id) { product { id } } }", {"id": product}, admin
    )


async def test_a_retried_event_of_a_product_archived_since_reports_the_stored_event(
    ingest: GraphQLClient,
) -> None:
    token, _ = await ingest.register("archived-retry")
    admin = await ingest.admin_token()
    product = await create_product(ingest, admin, "Soon gone")
    events = [batch_event(product, "before-archive")]
    first = (await ingest.data(BATCH, {"events": events}, token))["recordInteractions"]
    await archive_product(ingest, admin, product)
    retried = (await ingest.data(BATCH, {"events": events}, token))["recordInteractions"]
    assert retried["errors"] == [] and retried["stored"] == 0
    assert [(item["new"], item["interaction"]["id"]) for item in retried["results"]] == [
        (False, first["results"][0]["interaction"]["id"])
    ]
    later = (await ingest.data(BATCH, {"events": [batch_event(product, "after")]}, token))[
        "recordInteractions"
    ]
    assert [(e["index"], e["code"]) for e in later["errors"]] == [(0, "NOT_FOUND")]
    assert len(await stored_events(ingest, token)) == 1


async def test_concurrent_retries_of_one_batch_store_it_once(ingest: GraphQLClient) -> None:
    token, _ = await ingest.register("race")
    products = await product_ids(ingest, 20)
    events = [batch_event(pid) for pid in products]
    bodies = await asyncio.gather(
        *(ingest.data(BATCH, {"events": events}, token) for _ in range(5))
    )
    assert sum(body["recordInteractions"]["stored"] for body in bodies) == 20
    assert len(await stored_events(ingest, token)) == 20


async def test_bad_events_are_refused_one_by_one_and_the_rest_is_stored(
    ingest: GraphQLClient,
) -> None:
    token, _ = await ingest.register("bad")
    products = await product_ids(ingest, 5)
    admin = await ingest.admin_token()
    archived = await create_product(ingest, admin, "Gone")
    await archive_product(ingest, admin, archived)
    now = datetime.now(UTC)
    events = [
        batch_event(products[0], "ok-0"),
        batch_event("UHJvZHVjdDo5OTk5OTk=", "unknown"),
        batch_event(archived, "archived"),
        batch_event(products[1], "qty-0", quantity=0),
        batch_event(products[1], "qty-big", quantity=10_001),
        batch_event(products[2], "nul-free"),
        batch_event(products[2], "ok-0"),
        batch_event(products[3], "future", occurredAt=(now + timedelta(hours=1)).isoformat()),
        batch_event(products[3], "old", occurredAt=(now - timedelta(days=40)).isoformat()),
        batch_event("nonsense", "malformed"),
        batch_event(products[4], "ok-1", occurredAt=(now - timedelta(days=2)).isoformat()),
        batch_event(products[4], "x" * 65),
    ]
    payload = (await ingest.data(BATCH, {"events": events}, token))["recordInteractions"]
    refused = [(e["index"], e["field"], e["code"]) for e in payload["errors"]]
    assert refused == [
        (1, "events[1].productId", "NOT_FOUND"),
        (2, "events[2].productId", "NOT_FOUND"),
        (3, "events[3].quantity", "BAD_USER_INPUT"),
        (4, "events[4].quantity", "BAD_USER_INPUT"),
        (6, "events[6].clientEventId", "BAD_USER_INPUT"),
        (7, "events[7].occurredAt", "BAD_USER_INPUT"),
        (8, "events[8].occurredAt", "BAD_USER_INPUT"),
        (9, "events[9].productId", "BAD_USER_INPUT"),
        (11, "events[11].clientEventId", "BAD_USER_INPUT"),
    ]
    assert [item["index"] for item in payload["results"]] == [0, 5, 10]
    assert payload["stored"] == 3
    assert sorted(key for _, key in await stored_events(ingest, token)) == [
        "nul-free",
        "ok-0",
        "ok-1",
    ]


async def test_a_nul_character_refuses_the_call_naming_the_event(ingest: GraphQLClient) -> None:
    """NUL never reaches a resolver (PostgreSQL cannot store it): the whole call is refused by
    the schema's guard, naming the event and field; the service refuses it per event too."""
    token, _ = await ingest.register("nul")
    products = await product_ids(ingest, 2)
    events = [batch_event(products[0], "fine"), batch_event(products[1], "bad\u0000key")]
    body = await ingest.query(BATCH, {"events": events}, token)
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "$events[1].clientEventId",
    }
    assert await stored_events(ingest, token) == []
    user_id = await user_of(ingest, token)
    result = await ingest.app.state.services.events.record_batch(
        user_id, [EventInput(1, "view", 1, None, "a\u0000"), EventInput(1, "view", 1, None, "b")]
    )
    assert [(e.index, e.error.field) for e in result.errors] == [(0, "events[0].clientEventId")]
    assert [key for _, key in await stored_events(ingest, token)] == ["b"]


async def test_an_unknown_type_is_refused_naming_the_event(ingest: GraphQLClient) -> None:
    token, _ = await ingest.register("type")
    products = await product_ids(ingest, 2)
    events = [batch_event(products[0]), {**batch_event(products[1]), "type": "HOVER"}]
    body = await ingest.query(BATCH, {"events": events}, token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "$events[1].type"}
    assert "HOVER" in body["errors"][0]["message"]
    assert await stored_events(ingest, token) == []
    missing = [batch_event(products[0]), {"type": "VIEW", "clientEventId": "no-product"}]
    body = await ingest.query(BATCH, {"events": missing}, token)
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "$events[1].productId",
    }
    assert await stored_events(ingest, token) == []

    services = ingest.app.state.services
    user_id = await user_of(ingest, token)
    result = await services.events.record_batch(
        user_id, [EventInput(1, "view", 1, None, "a"), EventInput(1, "hover", 1, None, "b")]
    )
    assert [(e.index, e.error.field) for e in result.errors] == [(1, "events[1].type")]
    assert [item.index for item in result.recorded] == [0]


async def test_a_batch_over_500_is_refused_as_a_whole(ingest: GraphQLClient) -> None:
    token, _ = await ingest.register("big")
    products = await product_ids(ingest, 1)
    events = [batch_event(products[0]) for _ in range(501)]
    plain = """mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) {
      results { index } errors { index field code } } }"""
    payload = (await ingest.data(plain, {"events": events}, token))["recordInteractions"]
    assert [(e["index"], e["field"], e["code"]) for e in payload["errors"]] == [
        (None, "events", "BAD_USER_INPUT")
    ]
    assert payload["results"] == [] and await stored_events(ingest, token) == []

    full = await ingest.post(
        "mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) "
        "{ stored errors { field } } }",
        {"events": events[:500]},
        token,
    )
    body = full.json()
    assert body["data"]["recordInteractions"]["stored"] == 500
    assert body["extensions"]["cost"]["requested"] == 511


async def test_events_need_a_token(ingest: GraphQLClient) -> None:
    products = await product_ids(ingest, 1)
    body = await ingest.query(BATCH, {"events": [batch_event(products[0])]})
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_unreachable_database_fails_the_call_and_stores_nothing(
    sample_database_url: str,
) -> None:
    if not sample_database_url.startswith("postgresql"):
        pytest.skip("the outage is played by cutting the PostgreSQL connection")
    proxy = TcpProxy("127.0.0.1", 5432)
    proxy.restore()
    url = sample_database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    settings = Settings(database_url=url, rate_limit_points_per_minute=0, db_pool_size=2)
    try:
        async with running_client(settings) as client:
            token, _ = await client.register("outage")
            products = await product_ids(client, 3)
            proxy.cut()
            body = await client.query(
                BATCH, {"events": [batch_event(pid) for pid in products]}, token
            )
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            body = await client.query(RECORD, {"id": products[0], "type": "VIEW"}, token)
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            proxy.restore()
            user_id = await user_of(client, token)
            async with client.app.state.services.sessions() as session:
                count = await session.scalar(
                    select(func.count()).where(Interaction.user_id == user_id)
                )
            assert count == 0
            ok = await client.data(RECORD, {"id": products[0], "type": "VIEW"}, token)
            assert ok["recordInteraction"]["interaction"] is not None
    finally:
        proxy.close()


def test_ingest_benchmark_short_mode_loses_and_duplicates_nothing() -> None:
    """bench.ingest in short mode on both backends: only correctness is asserted, never speed."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--short"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for backend in ("sqlite", "postgresql"):
        measured = report[backend]
        for phase in ("single", "batch_100"):
            assert measured[phase]["errors"] == 0
            assert measured[phase]["stored"] == measured[phase]["distinct"]
            assert 0 <= measured[phase]["in_flight_at_stop"] <= 32 * 100
        check = measured["exact_check"]
        assert check["acknowledged_all_stored"] and check["unacknowledged_stored"] == 0
        assert check["duplicates"] == 0 and check["retried_events_stored_again"] == 0
