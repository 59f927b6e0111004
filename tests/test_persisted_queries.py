"""Automatic persisted queries (Apollo's protocol) and trusted documents, with Redis shared by
two app instances (two processes' worth of state) under a namespace of their own."""

import hashlib
import json
import pickle
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from app.asgi import create_app
from app.cache import Cache
from app.persisted_queries import PersistedQueries
from app.settings import Settings
from tests.conftest import GraphQLClient, running_client

REDIS_URL = "redis://127.0.0.1:6379/0"
TRENDING = "query Trending($first: Int!) { trending(first: $first) { id name } }"
START_VISIT = "mutation StartVisit { startVisit { token } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(document)}}


def settings_for(database_url: str, tmp_path: Path, namespace: str, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_namespace=namespace,
        rate_limit_points_per_minute=0,
        model_dir=tmp_path / "models",
        **extra,
    )


@asynccontextmanager
async def namespace() -> AsyncIterator[str]:
    """A fresh Redis key namespace, deleted afterwards."""
    name = f"test-apq-{uuid.uuid4().hex[:10]}"
    yield name
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def get(client: GraphQLClient, params: dict[str, Any]) -> httpx.Response:
    encoded = {
        key: json.dumps(value) if isinstance(value, dict) else value
        for key, value in params.items()
    }
    return await client.http.get("/graphql", params=encoded)


def code(body: dict[str, Any]) -> str:
    return body["errors"][0]["extensions"]["code"]


async def test_apq_registers_once_and_every_process_then_serves_the_hash(
    sample_database_url: str, tmp_path: Path
) -> None:
    async with namespace() as ns:
        settings = settings_for(sample_database_url, tmp_path, ns)
        async with running_client(settings) as first, running_client(settings) as second:
            hashed = {"variables": {"first": 3}, "extensions": persisted(TRENDING)}
            unknown = (await first.http.post("/graphql", json=hashed)).json()
            assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
            assert unknown["errors"][0]["message"] == "PersistedQueryNotFound"
            assert "data" not in unknown or unknown["data"] is None

            registered = await first.http.post("/graphql", json={**hashed, "query": TRENDING})
            names = [item["name"] for item in registered.json()["data"]["trending"]]
            assert len(names) == 3

            # The other instance knows it through Redis; a short GET URL is enough.
            response = await get(second, {"variables": {"first": 3}, **hashed_params(TRENDING)})
            assert response.status_code == 200
            assert [item["name"] for item in response.json()["data"]["trending"]] == names
            assert "query" not in str(response.request.url)


def hashed_params(document: str) -> dict[str, Any]:
    return {"extensions": persisted(document), "operationName": document.split()[1].split("(")[0]}


async def test_bad_persisted_queries_get_clear_codes_and_change_nothing(
    sample_database_url: str, tmp_path: Path
) -> None:
    async with namespace() as ns:
        settings = settings_for(sample_database_url, tmp_path, ns, persisted_query_max_bytes=200)
        async with running_client(settings) as client:
            other = "{ trending(first: 1) { id } }"
            wrong = {"query": other, "extensions": persisted(TRENDING), "variables": {"first": 1}}
            body = (await client.http.post("/graphql", json=wrong)).json()
            assert code(body) == "PERSISTED_QUERY_HASH_MISMATCH"
            # Nothing was stored under the hash that was claimed.
            hashed = {"extensions": persisted(TRENDING), "variables": {"first": 1}}
            body = (await client.http.post("/graphql", json=hashed)).json()
            assert code(body) == "PERSISTED_QUERY_NOT_FOUND"

            large = "{ trending(first: 1) { id " + " ".join(["name"] * 60) + " } }"
            body = (
                await client.http.post("/graphql", json={"query": large, **hashed_params(large)})
            ).json()
            assert code(body) == "PERSISTED_QUERY_TOO_LARGE"

            malformed = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}
            body = (await client.http.post("/graphql", json=malformed)).json()
            assert code(body) == "BAD_USER_INPUT"
            assert body["errors"][0]["extensions"]["field"] == "extensions.persistedQuery"

            # A mutation by hash over GET is refused like any GET mutation.
            await client.http.post(
                "/graphql", json={"query": START_VISIT, "extensions": persisted(START_VISIT)}
            )
            response = await get(client, {"extensions": persisted(START_VISIT)})
            assert response.status_code == 405


async def test_a_tampered_stored_document_is_not_executed(
    sample_database_url: str, tmp_path: Path
) -> None:
    async with namespace() as ns:
        settings = settings_for(sample_database_url, tmp_path, ns)
        redis = aioredis.from_url(REDIS_URL)
        try:
            async with running_client(settings) as client:
                # Another document stored under TRENDING's hash (e.g. someone with Redis access).
                key = f"{ns}:documents:{sha(TRENDING)}"
                await redis.set(key, pickle.dumps("{ categories }"))
                hashed = {"extensions": persisted(TRENDING), "variables": {"first": 1}}
                body = (await client.http.post("/graphql", json=hashed)).json()
                assert code(body) == "PERSISTED_QUERY_NOT_FOUND"
                # Garbage that cannot be decoded at all is a miss too.
                await redis.set(key, b"\x80not a pickle")
                body = (await client.http.post("/graphql", json=hashed)).json()
                assert code(body) == "PERSISTED_QUERY_NOT_FOUND"
        finally:
            await redis.aclose()


async def test_trusted_documents_run_only_the_manifest(
    sample_database_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "mobile-manifest.json"
    manifest.write_text(json.dumps({f"sha256:{sha(TRENDING)}": TRENDING}))
    async with namespace() as ns:
        settings = settings_for(
            sample_database_url,
            tmp_path,
            ns,
            persisted_queries_only=True,
            persisted_query_manifests=str(manifest),
        )
        async with running_client(settings) as client:
            response = await get(client, {"variables": {"first": 2}, **hashed_params(TRENDING)})
            assert len(response.json()["data"]["trending"]) == 2
            by_text = await client.data(TRENDING, {"first": 2})
            assert by_text == response.json()["data"]

            free_text = await client.query("{ categories }")
            assert code(free_text) == "PERSISTED_QUERY_NOT_IN_LIST"
            other = "{ categories }"
            for request in (
                {"extensions": persisted(other)},
                {"query": other, "extensions": persisted(other)},
            ):
                body = (await client.http.post("/graphql", json=request)).json()
                assert code(body) == "PERSISTED_QUERY_NOT_IN_LIST"
            strict = await client.http.post(
                "/graphql",
                json={"extensions": persisted(other)},
                headers={"accept": "application/graphql-response+json"},
            )
            assert strict.status_code == 400


def test_a_manifest_entry_that_is_not_its_hash_stops_start_up(
    sample_database_url: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "bad.json"
    manifest.write_text(json.dumps({sha("{ categories }"): TRENDING}))
    settings = Settings(database_url=sample_database_url, persisted_query_manifests=str(manifest))
    with pytest.raises(ValueError, match="not its document's hash"):
        create_app(settings)


def test_trusted_mode_without_documents_refuses_to_serve() -> None:
    documents = PersistedQueries(Cache("documents"), trusted={}, only_trusted=True)
    with pytest.raises(RuntimeError, match="PERSISTED_QUERIES_ONLY"):
        documents.check_servable()
    PersistedQueries(Cache("documents"), trusted={sha(TRENDING): TRENDING}).check_servable()
