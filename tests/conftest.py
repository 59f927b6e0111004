"""Shared fixtures: fresh migrated databases on SQLite and PostgreSQL, the ASGI app, a client.

PostgreSQL is the local server at 127.0.0.1:5432 (override with TEST_POSTGRES_URL). With CI=true
an unreachable server fails the run; elsewhere its tests are skipped with a reason.
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from app.asgi import create_app
from app.db import create_engine
from app.migrate import upgrade
from app.models import Role
from app.services.imports import import_dataset
from app.settings import PROJECT_ROOT, Settings

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SAMPLE_DIR = PROJECT_ROOT / "app" / "sample_data"
BACKENDS = ["sqlite", "postgresql"]
ADMIN_PASSWORD = "admin-password-123"


def _pg_host_part() -> str:
    return PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]


async def _pg_reachable() -> bool:
    try:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


@asynccontextmanager
async def fresh_database(backend: str, tmp_dir: Path, migrate: bool = True) -> AsyncIterator[str]:
    """A new empty database (migrated to head unless `migrate` is False); dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_dir / f'db-{uuid.uuid4().hex[:8]}.sqlite'}"
        if migrate:
            engine = create_engine(Settings(database_url=url))
            await upgrade(engine)
            await engine.dispose()
        yield url
        return
    if not await _pg_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable at {PG_ADMIN_DSN} (required when CI=true)")
        pytest.skip(f"PostgreSQL is unreachable at {PG_ADMIN_DSN}")
    name = f"rec_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"postgresql+asyncpg://{_pg_host_part()}/{name}"
    try:
        if migrate:
            engine = create_engine(Settings(database_url=url))
            await upgrade(engine)
            await engine.dispose()
        yield url
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class GraphQLClient:
    """Posts GraphQL over HTTP to the app through httpx's ASGI transport."""

    http: httpx.AsyncClient
    app: Starlette

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {"authorization": f"Bearer {token}"} if token else {}
        all_headers.update(headers or {})
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, token)
        return response.json()

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a response that must have no errors."""
        body = await self.query(query, variables, token)
        assert "errors" not in body, body.get("errors")
        return body["data"]

    async def register(self, prefix: str = "user") -> tuple[str, str]:
        """A new customer; returns (token, global user id)."""
        username = f"{prefix}-{uuid.uuid4().hex[:10]}"
        data = await self.data(
            "mutation($u: String!, $e: String!, $p: String!) { register(username: $u, email: $e,"
            " password: $p) { token user { id } errors { field message } } }",
            {"u": username, "e": f"{username}@example.com", "p": "correct-horse-battery"},
        )
        assert data["register"]["errors"] == []
        return data["register"]["token"], data["register"]["user"]["id"]

    async def admin_token(self) -> str:
        services = self.app.state.services
        username = f"admin-{uuid.uuid4().hex[:10]}"
        signed_in = await services.users.register(
            username, f"{username}@example.com", ADMIN_PASSWORD, role=Role.ADMIN
        )
        return signed_in.token


async def train(settings: Settings) -> None:
    """One trainer round into `settings.model_dir` (the trainer, not the app, fits models)."""
    from app.trainer import train_once

    await train_once(settings)


@asynccontextmanager
async def running_client(settings: Settings, trained: bool = False) -> AsyncIterator[GraphQLClient]:
    """The app over ASGI; with `trained`, a trainer round publishes its models first."""
    if trained:
        await train(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield GraphQLClient(http=http, app=app)


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
async def sample_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database holding the bundled sample (300 products, 250 customers), shared by tests."""
    async with fresh_database(request.param, tmp_path_factory.mktemp("sample")) as url:
        engine = create_engine(Settings(database_url=url))
        await import_dataset(engine, SAMPLE_DIR)
        await engine.dispose()
        yield url


@pytest.fixture(scope="module")
def postgres_sample_url() -> Iterator[str]:
    """A PostgreSQL database holding the bundled sample, for tests that start server processes."""
    from bench._support import run_cli, temporary_database

    with temporary_database("postgresql") as url:
        run_cli(url, "db", "upgrade")
        run_cli(url, "import", str(SAMPLE_DIR))
        run_cli(url, "train")
        yield url


@pytest.fixture(scope="session")
async def client(
    sample_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GraphQLClient]:
    settings = Settings(
        database_url=sample_database_url,
        rate_limit_points_per_minute=0,
        model_dir=tmp_path_factory.mktemp("models"),
    )
    async with running_client(settings, trained=True) as graphql_client:
        yield graphql_client
