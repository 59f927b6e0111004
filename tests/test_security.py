"""Each protection of the public API refuses its abuse: query depth, aliases, tokens and cost,
page sizes, access to other customers, anonymous writes, rate limits (memory and Redis),
production start-up and introspection, body size, batching, CORS, security headers, injection."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from graphql import parse
from sqlalchemy import event
from strawberry import relay

from app.asgi import create_app
from app.settings import PROJECT_ROOT, Settings
from schema import build_schema
from schema.extensions.cost import operation_cost
from tests.conftest import GraphQLClient, fresh_database, running_client

GQL_RESPONSE = "application/graphql-response+json"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STRONG_SECRET = "a-production-secret-of-more-than-32-characters"
PRODUCT_CARD = "fragment Card on Product { id sku name price category imageUrl purchaseCount }"
PAGE_OF_IDS = "{ products(first: 10) { edges { node { id } } } }"  # costs 11


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


@asynccontextmanager
async def sqlite_client(tmp_path: Path, **overrides: Any) -> AsyncIterator[GraphQLClient]:
    """An app with custom settings over a fresh, empty SQLite database."""
    async with fresh_database("sqlite", tmp_path) as url:
        async with running_client(Settings(database_url=url, **overrides)) as client:
            yield client


async def count_statements(client: GraphQLClient, send: Any) -> tuple[Any, int]:
    """The result of `await send()` and the number of SQL statements it ran."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = client.app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        result = await send()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return result, len(statements)


async def customer(client: GraphQLClient, prefix: str) -> tuple[str, str]:
    """A new customer (token, global id), made through the service: the shared test client's
    anonymous rate-limit bucket is left alone."""
    username = f"{prefix}-{uuid.uuid4().hex[:10]}"
    signed_in = await client.app.state.services.users.register(
        username, f"{username}@example.com", "correct-horse-battery"
    )
    return signed_in.token, relay.to_base64("User", signed_in.user.id)


async def a_product_id(client: GraphQLClient) -> str:
    data = await client.data("{ products(first: 1) { edges { node { id } } } }")
    return data["products"]["edges"][0]["node"]["id"]


# --- query shape limits ------------------------------------------------------------------------


async def test_depth_attack_through_similar_is_refused(client: GraphQLClient) -> None:
    product_id = await a_product_id(client)
    nested = "id"
    for _ in range(15):
        nested = f"similar(first: 1) {{ {nested} }}"
    attack = f'{{ product(id: "{product_id}") {{ {nested} }} }}'
    response = await client.post(attack, headers={"accept": GQL_RESPONSE})
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert "exceeds maximum operation depth of 10" in body["errors"][0]["message"]

    two_levels = "similar(first: 2) { similar(first: 2) { id } }"
    allowed = f'{{ product(id: "{product_id}") {{ {two_levels} }} }}'
    assert len((await client.data(allowed))["product"]["similar"]) == 2


async def test_300_aliases_are_refused(client: GraphQLClient) -> None:
    attack = "{ " + " ".join(f"a{i}: categories" for i in range(300)) + " }"
    body = await client.query(attack)
    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"]
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    few = await client.data("{ a: categories b: categories }")
    assert few["a"] == few["b"]


async def test_too_many_tokens_are_refused(client: GraphQLClient) -> None:
    attack = "{ products { edges { node { " + "name " * 2500 + "} } } }"
    body = await client.query(attack)
    assert body["data"] is None
    assert "more than 2000 tokens" in body["errors"][0]["message"]


async def test_page_sizes_above_100_are_refused(client: GraphQLClient) -> None:
    cheap = await client.query("{ products(first: 5000) { totalCount } }")
    assert cheap["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
    for query in (
        "{ trending(first: 5000) { id name } }",
        "{ products(first: 5000) { edges { node { id } } } }",
    ):
        body = await client.query(query)
        assert body["data"] is None
        assert error_codes(body) == ["QUERY_TOO_COSTLY"]
        assert body["errors"][0]["extensions"]["cost"]["requested"] == 5000 + (
            1 if "products" in query else 0
        )


# --- query cost --------------------------------------------------------------------------------


async def test_a_query_above_the_cost_limit_is_refused_before_it_runs(
    client: GraphQLClient,
) -> None:
    token, _ = await customer(client, "costly")
    product_id = await a_product_id(client)
    mutation = """mutation($id: ID!, $n: Int!) {
      recordInteraction(productId: $id, type: VIEW) {
        interaction { id product { similar(first: $n) { similar(first: $n) { id } } } }
      }
    }"""
    variables = {"id": product_id, "n": 100}

    async def send() -> httpx.Response:
        return await client.post(mutation, variables, token, headers={"accept": GQL_RESPONSE})

    response, statements = await count_statements(client, send)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] == {"requested": 10 + 3 + 100 * 101, "maximum": 1000}
    assert statements == 0  # nothing executed: no event stored, no product loaded
    history = await client.data("{ me { interactions(first: 5) { edges { cursor } } } }", {}, token)
    assert history["me"]["interactions"]["edges"] == []

    cheap = await client.post(mutation, {**variables, "n": 2}, token)
    assert cheap.json()["extensions"]["cost"]["requested"] == 10 + 3 + 2 * 3


async def test_cost_counts_fragments_inline_fragments_and_variables(
    client: GraphQLClient,
) -> None:
    schema = build_schema()._schema
    inline = "{ trending(first: 20) { id name purchaseCount similar(first: 4) { id } } }"
    fragments = """query($n: Int = 20) { trending(first: $n) { ...A } }
      fragment A on Product { id ... on Product { name ...B } similar(first: 4) { id } }
      fragment B on Product { purchaseCount }"""
    expected = 20 * (1 + 1 + 4 * 1)
    assert operation_cost(schema, parse(inline)) == expected
    assert operation_cost(schema, parse(fragments)) == expected
    assert operation_cost(schema, parse(fragments), {"n": 40}) == 2 * expected
    assert operation_cost(schema, parse("{ __typename categories }")) == 1
    # A "fragment bomb" (each fragment spreads the next twice) is priced without expanding it.
    bomb = ["query { trending(first: 1) { ...F0 } }"]
    bomb += [f"fragment F{i} on Product {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40)]
    bomb.append("fragment F40 on Product { purchaseCount }")
    assert operation_cost(schema, parse("\n".join(bomb))) == 1 + 2**40

    token, _ = await customer(client, "pricer")
    allowed = await client.query(fragments, {"n": 100}, token)
    assert "errors" not in allowed
    assert allowed["extensions"]["cost"]["requested"] == 600
    assert allowed["extensions"]["cost"]["maximum"] == 1000
    refused = await client.query(
        fragments.replace("similar(first: 4)", "similar(first: $n)"), {"n": 100}, token
    )
    assert error_codes(refused) == ["QUERY_TOO_COSTLY"]
    assert refused["errors"][0]["extensions"]["cost"]["requested"] == 100 * 102


async def test_the_web_apps_queries_fit_within_the_cost_limit(client: GraphQLClient) -> None:
    token, _ = await customer(client, "shopper")
    product_id = await a_product_id(client)
    queries = [
        (
            "query($first: Int!) { products(first: $first) { totalCount edges { cursor node "
            "{ ...Card } } pageInfo { hasNextPage endCursor } } }",
            {"first": 24},
        ),
        (
            "query($first: Int!) { recommendations(first: $first) { rank score "
            "collaborativeScore contentScore product { ...Card } reasons { kind weight detail "
            "category products { id name } } } }",
            {"first": 10},
        ),
        (
            "query($id: ID!) { product(id: $id) { ...Card description tags "
            "similar(first: 8) { ...Card } } }",
            {"id": product_id},
        ),
        ("query($first: Int!) { trending(first: $first) { ...Card } }", {"first": 8}),
        ("{ me { id username email role createdAt } }", {}),
    ]
    for query, variables in queries:
        document = f"{query} {PRODUCT_CARD}" if "...Card" in query else query
        response = await client.post(document, variables, token)
        body = response.json()
        assert "errors" not in body, body["errors"]
        cost = body["extensions"]["cost"]
        assert cost["requested"] <= cost["maximum"] // 4, (query, cost)


# --- authorisation -----------------------------------------------------------------------------


async def test_customer_a_cannot_read_customer_b(client: GraphQLClient) -> None:
    token_a, _ = await customer(client, "reader")
    token_b, id_b = await customer(client, "victim")
    product_id = await a_product_id(client)
    recorded = await client.data(
        "mutation($id: ID!) { recordInteraction(productId: $id, type: PURCHASE) "
        "{ interaction { id } errors { code } } }",
        {"id": product_id},
        token_b,
    )
    interaction_b = recorded["recordInteraction"]["interaction"]["id"]
    me_b = await client.data("{ me { username } }", {}, token_b)
    secret = me_b["me"]["username"]

    attempts = [
        ("query($b: ID!) { user(id: $b) { username email } }", {"b": id_b}),
        (
            "query($b: ID!) { node(id: $b) { ... on User { username interactions(first: 5) "
            "{ edges { node { id product { name } } } } } } }",
            {"b": id_b},
        ),
        ("query($b: ID!) { recommendations(userId: $b) { rank product { id } } }", {"b": id_b}),
        (
            "query($b: ID!, $p: ID!) { recommendation(productId: $p, userId: $b) { rank } }",
            {"b": id_b, "p": product_id},
        ),
    ]
    for query, variables in attempts:
        response = await client.post(query, variables, token_a)
        body = response.json()
        assert error_codes(body) == ["FORBIDDEN"], body
        assert secret not in response.text
        assert all(value is None for value in (body.get("data") or {}).values())

    # B's event through `node` resolves to null for A (and for anonymous visitors it is refused).
    node = await client.query(
        "query($i: ID!) { node(id: $i) { id ... on Interaction { type user { username } } } }",
        {"i": interaction_b},
        token_a,
    )
    assert node["data"] == {"node": None} and secret not in str(node)
    anonymous = await client.query("query($i: ID!) { node(id: $i) { id } }", {"i": interaction_b})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    # ... while B (and an admin) can read it.
    own = await client.data(
        "query($i: ID!) { node(id: $i) { ... on Interaction { user { username } } } }",
        {"i": interaction_b},
        token_b,
    )
    assert own["node"]["user"]["username"] == secret


async def test_anonymous_mutations_are_refused(client: GraphQLClient) -> None:
    product_id = await a_product_id(client)
    mutations = [
        (
            "mutation($id: ID!) { recordInteraction(productId: $id, type: VIEW) "
            "{ interaction { id } } }",
            {"id": product_id},
        ),
        (
            'mutation($id: ID!) { updateProduct(id: $id, input: {name: "Hacked"}) '
            "{ product { name } } }",
            {"id": product_id},
        ),
        ("mutation($id: ID!) { deleteProduct(id: $id) { product { id } } }", {"id": product_id}),
    ]
    for query, variables in mutations:
        body = await client.query(query, variables)
        assert body["data"] is None
        assert error_codes(body) == ["UNAUTHENTICATED"]
    product = await client.data("query($id: ID!) { product(id: $id) { name } }", {"id": product_id})
    assert product["product"] is not None and product["product"]["name"] != "Hacked"


# --- rate limiting -----------------------------------------------------------------------------


async def test_rate_limit_in_memory_refuses_over_budget_with_retry_after(
    empty_database_url: str,
) -> None:
    settings = Settings(database_url=empty_database_url, rate_limit_points_per_minute=30)
    async with running_client(settings) as client:
        for remaining in (19, 8):
            body = await client.query(PAGE_OF_IDS)
            assert "errors" not in body
            assert body["extensions"]["cost"]["remaining"] == remaining

        refused, statements = await count_statements(
            client, lambda: client.post(PAGE_OF_IDS, headers={"accept": GQL_RESPONSE})
        )
        assert refused.status_code == 429
        assert statements == 0
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        body = refused.json()
        assert "data" not in body
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == retry_after

        legacy = await client.post(PAGE_OF_IDS)  # application/json: 200 with the error
        assert legacy.status_code == 200 and "retry-after" in legacy.headers
        assert error_codes(legacy.json()) == ["RATE_LIMITED"]

        # Buckets are per client: a signed-in customer has their own.
        token, _ = await customer(client, "own-bucket")
        assert "errors" not in await client.query(PAGE_OF_IDS, token=token)


async def test_rate_limit_zero_disables_it(tmp_path: Path) -> None:
    async with sqlite_client(tmp_path, rate_limit_points_per_minute=0) as client:
        for _ in range(5):
            body = await client.query("{ trending(first: 100) { id } }")
            assert "errors" not in body
            assert "remaining" not in body["extensions"]["cost"]


async def _redis_or_skip() -> None:
    connection = aioredis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await connection.ping()
    except (OSError, aioredis.RedisError):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is unreachable at {REDIS_URL} (required when CI=true)")
        pytest.skip(f"Redis is unreachable at {REDIS_URL}")
    finally:
        await connection.aclose()


async def test_rate_limit_in_redis_is_shared_by_two_app_instances(
    empty_database_url: str,
) -> None:
    await _redis_or_skip()
    prefix = f"test-ratelimit-{uuid.uuid4().hex}"
    settings = Settings(
        database_url=empty_database_url,
        redis_url=REDIS_URL,
        rate_limit_points_per_minute=30,
        rate_limit_key_prefix=prefix,
    )
    redis = aioredis.from_url(REDIS_URL)
    try:
        async with running_client(settings) as first, running_client(settings) as second:
            assert first.app is not second.app
            assert "errors" not in await first.query(PAGE_OF_IDS)
            assert "errors" not in await second.query(PAGE_OF_IDS)
            for instance in (first, second):  # 22 of 30 points spent, shared: 11 more is over
                response = await instance.post(PAGE_OF_IDS, headers={"accept": GQL_RESPONSE})
                assert response.status_code == 429
                assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert await redis.exists(f"{prefix}:ip:127.0.0.1") == 1
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_rate_limit_falls_back_to_memory_when_redis_is_unreachable(
    tmp_path: Path,
) -> None:
    async with sqlite_client(
        tmp_path, redis_url="redis://127.0.0.1:1/0", rate_limit_points_per_minute=30
    ) as client:
        for _ in range(2):
            body = await asyncio.wait_for(client.query(PAGE_OF_IDS), timeout=5)
            assert "errors" not in body
        refused = await client.query(PAGE_OF_IDS)
        assert error_codes(refused) == ["RATE_LIMITED"]


# --- production mode ---------------------------------------------------------------------------


def test_create_app_refuses_a_weak_secret_in_production() -> None:
    for secret in ({}, {"jwt_secret": "short-secret"}):
        with pytest.raises(RuntimeError, match="refusing to start in production: JWT_SECRET"):
            create_app(Settings(app_env="production", **secret))


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"JWT_SECRET", "APP_ENV", "DATABASE_URL", "REDIS_URL"}
    }
    return {**env, "PYTHONPATH": str(PROJECT_ROOT), **extra}


def test_production_start_without_a_secret_fails_on_the_cli_and_uvicorn(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = _clean_env(APP_ENV="production")
    cli = subprocess.run(
        [str(bin_dir / "recommender"), "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode != 0
    assert "refusing to start in production: JWT_SECRET is not set" in cli.stderr

    server = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app.asgi:create_app", "--factory", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert server.returncode != 0
    assert "refusing to start in production: JWT_SECRET is not set" in server.stderr


async def test_production_turns_introspection_and_graphiql_off(tmp_path: Path) -> None:
    async with sqlite_client(tmp_path, app_env="production", jwt_secret=STRONG_SECRET) as client:
        for query in ("{ __schema { queryType { name } } }", '{ __type(name: "User") { name } }'):
            response = await client.post(query, headers={"accept": GQL_RESPONSE})
            assert response.status_code == 400
            assert "introspection" in response.json()["errors"][0]["message"].lower()
        assert (await client.data("{ __typename }")) == {"__typename": "Query"}
        page = await client.http.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    async with sqlite_client(tmp_path) as development:
        assert (await development.data("{ __schema { queryType { name } } }"))["__schema"]


# --- HTTP ----------------------------------------------------------------------------------------


async def test_a_body_too_large_is_refused_with_413(client: GraphQLClient) -> None:
    limit = client.app.state.services.settings.max_body_bytes
    big = "{ categories }" + " " * (limit + 20_000)
    response = await client.post(big)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        yield b'{"query": "{ categories }", "variables": {"pad": "'
        for _ in range(limit // 10_000 + 2):
            yield b"x" * 10_000
        yield b'"}}'

    streamed = await client.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert "x-content-type-options" in streamed.headers
    fits = await client.post("{ categories }" + " " * 50_000)
    assert fits.status_code == 200 and "errors" not in fits.json()


async def test_batched_requests_are_refused(client: GraphQLClient) -> None:
    token, _ = await customer(client, "batcher")
    batch = [{"query": "{ categories }"}, {"query": "{ me { username } }"}]
    response = await client.http.post(
        "/graphql", json=batch, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    assert "categories" not in response.text and "username" not in response.text


async def test_cors_preflight_allows_only_configured_origins(tmp_path: Path) -> None:
    origins = "https://shop.example, https://admin.shop.example/"
    async with sqlite_client(tmp_path, cors_origins=origins) as client:
        preflight = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        }
        for origin in ("https://shop.example", "https://admin.shop.example"):
            allowed = await client.http.options("/graphql", headers={"origin": origin, **preflight})
            assert allowed.status_code == 200
            assert allowed.headers["access-control-allow-origin"] == origin
            assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
            assert "access-control-allow-credentials" not in allowed.headers

        refused = await client.http.options(
            "/graphql", headers={"origin": "https://evil.example", **preflight}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        simple = await client.post("{ categories }", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers
        ok = await client.post("{ categories }", headers={"origin": "https://shop.example"})
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"

    async with sqlite_client(tmp_path) as default:  # no CORS_ORIGINS: same origin only
        refused = await default.http.options(
            "/graphql", headers={"origin": "https://shop.example", **preflight}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers


def _assert_security_headers(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


async def test_security_headers_are_on_every_response(client: GraphQLClient) -> None:
    responses = [
        await client.post("{ categories }"),
        await client.post("{ nope }", headers={"accept": GQL_RESPONSE}),
        await client.http.get("/healthz"),
        await client.http.get("/no-such-page.php"),
        await client.post("{ me { id } }", token="forged"),
    ]
    for response in responses:
        _assert_security_headers(response)
    assert "strict-transport-security" not in responses[0].headers  # development
    graphiql = await client.http.get("/graphql", headers={"accept": "text/html"})
    assert "graphiql" in graphiql.text.lower()
    _assert_security_headers(graphiql)  # our own build: nothing from elsewhere


async def test_production_sends_csp_and_hsts_everywhere(tmp_path: Path) -> None:
    async with sqlite_client(tmp_path, app_env="production", jwt_secret=STRONG_SECRET) as client:
        for response in (
            await client.post("{ categories }"),
            await client.http.get("/graphql", headers={"accept": "text/html"}),
            await client.http.get("/healthz"),
        ):
            _assert_security_headers(response)
            assert response.headers["strict-transport-security"].startswith("max-age=")


# --- input -------------------------------------------------------------------------------------


async def test_string_arguments_are_bound_as_parameters(client: GraphQLClient) -> None:
    before = (await client.data("{ products { totalCount } }"))["products"]["totalCount"]
    assert before > 0
    for attack in (
        "%'; DROP TABLE products; --",
        "' OR '1'='1",
        "%",
        "_",
        '\\"; DELETE FROM users; --',
    ):
        search = await client.data(
            "query($s: String!) { products(search: $s, category: $s) { totalCount } }",
            {"s": attack},
        )
        assert search["products"]["totalCount"] == 0
        inline = await client.query(
            f"{{ products(search: {_graphql_string(attack)}) {{ totalCount }} }}"
        )
        assert inline["data"]["products"]["totalCount"] == 0, inline
        by_sku = await client.data(
            "query($s: String!) { productBySku(sku: $s) { id } }", {"s": attack}
        )
        assert by_sku["productBySku"] is None
        login = await client.data(
            "mutation($s: String!) { login(username: $s, password: $s) { token errors { code } } }",
            {"s": attack},
        )
        assert login["login"]["token"] is None and login["login"]["errors"]
    after = (await client.data("{ products { totalCount } }"))["products"]["totalCount"]
    assert after == before


def _graphql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def test_nul_characters_are_refused_before_they_reach_the_database(
    client: GraphQLClient,
) -> None:
    token, _ = await customer(client, "nul")
    literal = await client.query('{ products(search: "a\\u0000b") { totalCount } }', token=token)
    assert literal["data"] is None
    assert literal["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "search"}
    tags = {"tags": ["ok", "a\x00b"]}
    for query, value, field in (
        ("query($s: String!) { productBySku(sku: $s) { id } }", "a\x00b", "$s"),
        ("mutation($s: String!) { login(username: $s, password: $s) { token } }", "a\x00b", "$s"),
        (
            'mutation($s: UpdateProductInput!) { updateProduct(id: "x", input: $s) { errors '
            "{ code } } }",
            tags,
            "$s.tags[1]",
        ),
    ):
        body = await client.query(query, {"s": value}, token)
        assert body["data"] is None
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}
    look_alike = "a\\u0000b"  # a backslash and "u0000": no NUL character
    body = await client.query(
        "query($a: String!, $b: String!) { first: productBySku(sku: $a) { id } "
        "second: productBySku(sku: $b) { id } }",
        {"a": look_alike, "b": "c\x00d"},
        token,
    )
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "$b"}
    harmless = await client.query(
        "query($a: String!) { productBySku(sku: $a) { id } }", {"a": look_alike}, token
    )
    assert "errors" not in harmless and harmless["data"] == {"productBySku": None}
