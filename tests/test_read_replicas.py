"""Read replicas (DATABASE_REPLICA_URL) against a real PostgreSQL streaming replica.

The replica is a hot standby made from the local test server (tests/pg_replica.py). Pausing its
WAL replay freezes what it shows, which tells apart a read served by the replica (the older
state) from one served by the primary (the newest).
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import Database
from app.db import create_engine
from app.services.imports import import_dataset
from app.settings import Settings
from app.trainer import train_once
from tests.conftest import PG_ADMIN_DSN, SAMPLE_DIR, GraphQLClient, fresh_database, running_client
from tests.pg_replica import StreamingReplica, free_port, postgres_bin_dir

PRODUCTS = "{ products(first: 5) { edges { node { id name price purchaseCount } } } }"
SEARCH = "query($q: String!) { products(first: 5, search: $q) { edges { node { id } } } }"
PRODUCT = "query($id: ID!) { product(id: $id) { id name } }"
CREATE = """mutation($input: CreateProductInput!) {
  createProduct(input: $input) { product { id } errors { field code } }
}"""
START = "mutation { startVisit { token errors { code } } }"
RECORD = """mutation($id: ID!) {
  recordInteraction(productId: $id, type: VIEW) { interaction { id } errors { field code } }
}"""
ACTIVITY = "{ me { interactions(first: 5) { edges { node { product { id } } } } } }"
RECOMMEND = "{ recommendations(first: 5) { product { id name } } }"
REDIS_URL = "redis://127.0.0.1:6379/0"


def reads(target: str) -> float:
    return REGISTRY.get_sample_value("recommender_db_reads_total", {"target": target}) or 0.0


def fallbacks(reason: str) -> float:
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("recommender_db_read_fallbacks_total", labels) or 0.0


@pytest.fixture(scope="module")
async def primary_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A PostgreSQL database holding the bundled sample, on the local server (the primary)."""
    async with fresh_database("postgresql", tmp_path_factory.mktemp("replicas")) as url:
        engine = create_engine(Settings(database_url=url))
        await import_dataset(engine, SAMPLE_DIR)
        await engine.dispose()
        yield url


@pytest.fixture(scope="module")
async def replica(primary_url: str) -> AsyncIterator[StreamingReplica]:
    """A streaming replica of the local server, made after the sample was imported."""
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    major = int(await connection.fetchval("SHOW server_version_num")) // 10000
    await connection.close()
    bin_dir = postgres_bin_dir(major)
    if bin_dir is None:
        pytest.skip(
            f"PostgreSQL {major} server binaries (pg_basebackup, pg_ctl) not found in "
            f"/usr/lib/postgresql/{major}/bin, on PATH or in POSTGRES_BIN_DIR"
        )
    streaming = await StreamingReplica.create(PG_ADMIN_DSN, bin_dir)
    try:
        yield streaming
    finally:
        streaming.remove()


@pytest.fixture
async def redis_namespace() -> AsyncIterator[str]:
    """A Redis namespace of this test, its keys deleted afterwards (skip without Redis)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        await client.ping()
    except (RedisError, OSError):
        pytest.skip(f"no Redis at {REDIS_URL}")
    namespace = f"test-{uuid.uuid4().hex}"
    yield namespace
    keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def replica_settings(
    primary_url: str, replica: StreamingReplica, model_dir: Path, **overrides: Any
) -> Settings:
    """The primary, the replica, no rate limit, no response cache (every query reads the
    database, which is what these tests watch). Health checks only when a test asks
    (`Database.check`), so what a read sees does not depend on timing."""
    values: dict[str, Any] = {
        "database_url": primary_url,
        "database_replica_url": replica.url(primary_url.rsplit("/", 1)[1]),
        "database_replica_check_seconds": 3600,
        "database_replica_max_lag_seconds": 3600,
        "rate_limit_points_per_minute": 0,
        "response_cache_ttl_seconds": 0,
        "model_dir": model_dir,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def api(
    primary_url: str, replica: StreamingReplica, model_dir: Path, **overrides: Any
) -> AsyncIterator[tuple[GraphQLClient, Database]]:
    """The app reading from the replica, once the replica has caught up and been checked."""
    settings = replica_settings(primary_url, replica, model_dir, **overrides)
    async with running_client(settings) as client:
        database: Database = client.app.state.services.database
        await replica.caught_up()
        await database.check()
        yield client, database


async def on_primary(primary_url: str, query: str, *args: Any) -> Any:
    """One value read straight from the primary (not through the app)."""
    connection = await asyncpg.connect(primary_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def new_product(client: GraphQLClient, admin: str, name: str) -> str:
    product = {"sku": f"replica-{uuid.uuid4().hex[:10]}", "name": name, "price": 9.5}
    payload = (await client.data(CREATE, {"input": product}, admin))["createProduct"]
    assert payload["errors"] == []
    return str(payload["product"]["id"])


def activity(body: dict[str, Any]) -> list[str]:
    return [edge["node"]["product"]["id"] for edge in body["me"]["interactions"]["edges"]]


async def on_a_replica(reader: AbstractAsyncContextManager[AsyncSession]) -> bool:
    """Whether the session `reader` gives is on a standby (else it is on the primary)."""
    async with reader as session:
        return bool(await session.scalar(text("SELECT pg_is_in_recovery()")))


async def test_catalog_reads_come_from_the_replica_and_own_writes_from_the_primary(
    primary_url: str, replica: StreamingReplica, tmp_path: Path
) -> None:
    async with api(primary_url, replica, tmp_path) as (client, database):
        customer, _ = await client.register("replica")
        admin = await client.admin_token()
        shown = (await client.data(PRODUCTS))["products"]["edges"]
        await replica.caught_up()
        await database.check()
        before = reads("replica")
        assert (await client.data(PRODUCTS))["products"]["edges"] == shown
        assert reads("replica") > before

        await replica.pause_replay()
        try:
            name = f"Lantern {uuid.uuid4().hex[:8]}"
            await new_product(client, admin, name)
            viewed = shown[0]["node"]["id"]
            recorded = await client.data(RECORD, {"id": viewed}, customer)
            assert recorded["recordInteraction"]["errors"] == []
            visit = (await client.data(START))["startVisit"]["token"]
            visited = await client.data(RECORD, {"id": viewed}, visit)  # a new visitor's token
            assert visited["recordInteraction"]["errors"] == []
            await database.check()

            # The catalog: the replica's older state, although the primary has the product.
            assert (await client.data(SEARCH, {"q": name}))["products"]["edges"] == []
            count = "SELECT count(*) FROM products WHERE name = $1"
            assert await on_primary(primary_url, count, name) == 1
            # A customer's own reads right after their write: the primary.
            own_writes = fallbacks("own_write")
            assert activity(await client.data(ACTIVITY, token=customer)) == [viewed]
            assert activity(await client.data(ACTIVITY, token=visit)) == [viewed]
            assert fallbacks("own_write") > own_writes
        finally:
            await replica.resume_replay()

        await database.check()
        before = reads("replica")
        assert len((await client.data(SEARCH, {"q": name}))["products"]["edges"]) == 1
        assert activity(await client.data(ACTIVITY, token=customer)) == [viewed]
        assert reads("replica") > before


async def test_a_write_noted_by_one_process_keeps_the_writers_reads_on_the_primary_in_another(
    primary_url: str, replica: StreamingReplica, tmp_path: Path, redis_namespace: str
) -> None:
    settings = replica_settings(
        primary_url, replica, tmp_path, redis_url=REDIS_URL, redis_namespace=redis_namespace
    )
    one_process, another = Database(settings), Database(settings)
    users = await on_primary(primary_url, "SELECT array_agg(id ORDER BY id) FROM users")
    customer, someone_else = users[:2]
    try:
        await replica.caught_up()
        await replica.pause_replay()
        try:
            update = "UPDATE users SET email = email WHERE id = $1 RETURNING id"
            assert await on_primary(primary_url, update, customer) == customer
            await one_process.wrote([customer])
            await another.check()
            assert not await on_a_replica(another.reader([customer]))
            assert await on_a_replica(another.reader([someone_else]))
            assert await on_a_replica(another.reader())
        finally:
            await replica.resume_replay()
        await another.check()
        assert await on_a_replica(another.reader([customer]))
    finally:
        await one_process.close()
        await another.close()


async def test_a_replica_lagging_beyond_the_bound_is_skipped(
    primary_url: str, replica: StreamingReplica, tmp_path: Path
) -> None:
    async with api(primary_url, replica, tmp_path, database_replica_max_lag_seconds=0) as (
        client,
        database,
    ):
        admin = await client.admin_token()
        await replica.pause_replay()
        try:
            name = f"Lamp {uuid.uuid4().hex[:8]}"
            await new_product(client, admin, name)
            await database.check()
            assert database.replicas[0].up and database.replicas[0].lag_seconds > 0
            lagging, on_the_primary = fallbacks("lag"), reads("primary")
            assert len((await client.data(SEARCH, {"q": name}))["products"]["edges"]) == 1
            assert fallbacks("lag") > lagging and reads("primary") > on_the_primary
        finally:
            await replica.resume_replay()


async def test_reads_skip_a_dead_replica_for_the_next_one(
    primary_url: str, replica: StreamingReplica, tmp_path: Path
) -> None:
    database_name = primary_url.rsplit("/", 1)[1]
    dead = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/{database_name}"
    replicas = f"{dead},{replica.url(database_name)}"
    async with api(primary_url, replica, tmp_path, database_replica_url=replicas) as (
        client,
        database,
    ):
        assert [each.up for each in database.replicas] == [False, True]
        on_the_replica, on_the_primary, down = reads("replica"), reads("primary"), fallbacks("down")
        for _ in range(3):
            await client.data(PRODUCTS)
        assert reads("replica") > on_the_replica and reads("primary") == on_the_primary
        assert fallbacks("down") > down


async def test_the_trainer_loads_events_from_the_replica(
    primary_url: str, replica: StreamingReplica, tmp_path: Path
) -> None:
    another_view = (
        "INSERT INTO interactions (user_id, product_id, type, quantity, occurred_at)"
        " SELECT user_id, product_id, 'view', 1, now() FROM interactions"
        " ORDER BY id DESC LIMIT 1 RETURNING id"
    )
    applied = await on_primary(primary_url, another_view)
    await replica.caught_up()
    await replica.pause_replay()
    try:
        assert await on_primary(primary_url, another_view) > applied
        await train_once(replica_settings(primary_url, replica, tmp_path))
    finally:
        await replica.resume_replay()
    watermark = await on_primary(
        primary_url,
        "SELECT watermark FROM model_versions WHERE config = 'default' ORDER BY version DESC",
    )
    assert watermark == applied  # the replica's newest event, not the primary's


async def test_shopping_goes_on_without_errors_when_the_replica_stops(
    primary_url: str, replica: StreamingReplica, tmp_path: Path
) -> None:
    async with api(primary_url, replica, tmp_path) as (client, database):
        customer, _ = await client.register("shopper")
        product = (await client.data(PRODUCTS))["products"]["edges"][1]["node"]["id"]

        async def shop() -> None:
            """Browse, look at a product, view it, see picks and history: no errors."""
            await client.data(PRODUCTS, token=customer)
            await client.data(PRODUCT, {"id": product}, customer)
            recorded = await client.data(RECORD, {"id": product}, customer)
            assert recorded["recordInteraction"]["errors"] == []
            await client.data(RECOMMEND, token=customer)
            assert product in activity(await client.data(ACTIVITY, token=customer))
            await client.data("{ categories }")

        before = reads("replica")
        await shop()
        assert reads("replica") > before

        replica.stop()
        try:
            await shop()  # the first reads find it gone (connect refused) and go on
            assert not database.replicas[0].up
            failed, down, on_the_replica = fallbacks("error"), fallbacks("down"), reads("replica")
            await shop()
            await shop()
            assert fallbacks("error") == failed, "a replica known down is not connected to"
            assert fallbacks("down") > down and reads("replica") == on_the_replica
            assert (await client.http.get("/readyz")).status_code == 200
        finally:
            replica.start()
        await replica.caught_up()
        await database.check()
        assert database.replicas[0].up
        before = reads("replica")
        await client.data(PRODUCTS)
        assert reads("replica") > before


def test_replicas_need_postgresql() -> None:
    replica = "postgresql+asyncpg://postgres@127.0.0.1:18632/shop"
    with pytest.raises(ValueError, match="DATABASE_REPLICA_URL needs a PostgreSQL"):
        Settings(database_url="sqlite+aiosqlite:///shop.db", database_replica_url=replica)
    with pytest.raises(ValueError, match="postgresql\\+asyncpg"):
        Settings(
            database_url="postgresql+asyncpg://postgres@127.0.0.1/shop",
            database_replica_url=f"{replica}, mysql://x/shop",
        )
