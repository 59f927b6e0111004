"""The response cache: per viewer, invalidated by the viewer's events (on every process sharing
Redis) and by catalog edits, HTTP validators on GET, and never for mutations or explanations."""

import json
import pickle
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from strawberry.relay.utils import to_base64

from app.services.catalog import ProductFilter
from app.settings import Settings
from tests.conftest import GraphQLClient, running_client, train

REDIS_URL = "redis://127.0.0.1:6379/0"
RECOMMEND = """query Recommendations($first: Int!) {
  recommendations(first: $first) { rank product { id name price } }
}"""
RECORD = """mutation($id: ID!, $type: InteractionType!) {
  recordInteraction(productId: $id, type: $type) { errors { code } }
}"""
PRODUCT = "query Product($id: ID!) { product(id: $id) { id name price } }"


@pytest.fixture
async def shared(sample_database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Any, ...]]:
    """Two app instances (two processes' worth of state) on one Redis namespace, trained."""
    namespace = f"test-responses-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        database_url=sample_database_url,
        redis_url=REDIS_URL,
        redis_namespace=namespace,
        rate_limit_points_per_minute=0,
        model_dir=tmp_path / "models",
    )
    await train(settings)
    async with running_client(settings) as first, running_client(settings) as second:
        yield first, second, namespace
    redis = aioredis.from_url(REDIS_URL)
    keys = [key async for key in redis.scan_iter(f"{namespace}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def post(
    client: GraphQLClient, query: str, variables: dict[str, Any], token: str | None = None
) -> httpx.Response:
    response = await client.post(query, variables, token)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.json()
    return response


async def get(
    client: GraphQLClient,
    query: str,
    variables: dict[str, Any],
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {"accept": "application/json", **(headers or {})}
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    params = {"query": query, "variables": json.dumps(variables)}
    return await client.http.get("/graphql", params=params, headers=all_headers)


async def record(client: GraphQLClient, token: str, product_id: str, kind: str) -> None:
    response = await post(client, RECORD, {"id": product_id, "type": kind}, token)
    assert response.json()["data"]["recordInteraction"]["errors"] == []
    assert "x-response-cache" not in response.headers  # mutations never touch the cache


async def product_ids(client: GraphQLClient) -> list[str]:
    page = await client.data("{ products(first: 40) { edges { node { id } } } }")
    return [edge["node"]["id"] for edge in page["products"]["edges"]]


def names(response: httpx.Response) -> list[str]:
    return [item["product"]["id"] for item in response.json()["data"]["recommendations"]]


async def test_each_viewer_gets_their_own_cached_list_and_an_event_renews_it_everywhere(
    shared: tuple[GraphQLClient, GraphQLClient, str],
) -> None:
    first, second, _ = shared
    ids = await product_ids(first)
    alice, _ = await first.register("alice")
    bob, _ = await first.register("bob")
    for product_id in ids[:3]:
        await record(first, alice, product_id, "PURCHASE")
    for product_id in ids[20:23]:
        await record(first, bob, product_id, "PURCHASE")

    alice_first = await post(first, RECOMMEND, {"first": 10}, alice)
    assert alice_first.headers["x-response-cache"] == "MISS"
    alice_again = await post(second, RECOMMEND, {"first": 10}, alice)
    assert alice_again.headers["x-response-cache"] == "HIT"  # stored by the other instance
    assert alice_again.json() == alice_first.json()

    # Bob asks the same document with the same variables: never Alice's entry.
    bob_first = await post(second, RECOMMEND, {"first": 10}, bob)
    assert bob_first.headers["x-response-cache"] == "MISS"
    assert names(bob_first) != names(alice_first)
    bob_again = await post(first, RECOMMEND, {"first": 10}, bob)
    assert bob_again.headers["x-response-cache"] == "HIT"
    assert bob_again.json() == bob_first.json()
    assert names(bob_again) != names(alice_again)

    # Alice adds to cart on one instance; the other's next answer is computed again.
    await record(first, alice, names(alice_first)[0], "PURCHASE")
    alice_after = await post(second, RECOMMEND, {"first": 10}, alice)
    assert alice_after.headers["x-response-cache"] == "MISS"
    assert names(alice_first)[0] not in names(alice_after)
    # Bob's entry is untouched by Alice's event.
    assert (await post(second, RECOMMEND, {"first": 10}, bob)).headers["x-response-cache"] == "HIT"


async def test_public_get_responses_carry_validators_and_answer_304(
    shared: tuple[GraphQLClient, GraphQLClient, str],
) -> None:
    first, _, _ = shared
    product_id = (await product_ids(first))[5]
    response = await get(first, PRODUCT, {"id": product_id})
    assert response.status_code == 200
    etag = response.headers["etag"]
    assert response.headers["cache-control"] == "public, max-age=30"
    assert "Authorization" in response.headers["vary"]
    again = await get(first, PRODUCT, {"id": product_id}, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    # Signed in: the same public result, but only the browser may keep it.
    token, _ = await first.register("reader")
    private = await get(first, PRODUCT, {"id": product_id}, token)
    assert private.headers["cache-control"] == "private, max-age=30"
    assert private.json() == response.json()

    # Personal results must be revalidated, so that an event shows at once.
    mine = await get(first, RECOMMEND, {"first": 5}, token)
    assert mine.headers["cache-control"] == "private, no-cache"
    assert (
        await get(first, RECOMMEND, {"first": 5}, token, {"if-none-match": mine.headers["etag"]})
    ).status_code == 304
    await record(first, token, product_id, "CART_ADD")
    renewed = await get(
        first, RECOMMEND, {"first": 5}, token, {"if-none-match": mine.headers["etag"]}
    )
    assert renewed.status_code == 200
    assert renewed.headers["x-response-cache"] == "MISS"

    # POST is cached on the server but carries no HTTP validators.
    posted = await post(first, PRODUCT, {"id": product_id})
    assert posted.headers["x-response-cache"] == "HIT"
    assert "etag" not in posted.headers


async def test_a_catalog_edit_renews_cached_products_on_every_instance(
    shared: tuple[GraphQLClient, GraphQLClient, str],
) -> None:
    first, second, _ = shared
    product_id = (await product_ids(first))[7]
    before = await post(second, PRODUCT, {"id": product_id})
    assert (await post(second, PRODUCT, {"id": product_id})).headers["x-response-cache"] == "HIT"
    admin = await first.admin_token()
    price = round(before.json()["data"]["product"]["price"] + 1.5, 2)
    edited = await first.data(
        "mutation($id: ID!, $p: Float!) { updateProduct(id: $id, input: {price: $p}) "
        "{ errors { code } } }",
        {"id": product_id, "p": price},
        admin,
    )
    assert edited["updateProduct"]["errors"] == []
    after = await post(second, PRODUCT, {"id": product_id})
    assert after.headers["x-response-cache"] == "MISS"


async def test_undecodable_entries_fall_back_to_executing(
    shared: tuple[GraphQLClient, GraphQLClient, str],
) -> None:
    first, _, namespace = shared
    product_id = (await product_ids(first))[9]
    executed = await post(first, PRODUCT, {"id": product_id})
    redis = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(f"{namespace}:responses:public:*")]
        assert keys
        for garbage in (
            b"\x80 not a pickle",
            pickle.dumps(b"no-etag"),
        ):
            for key in keys:
                await redis.set(key, garbage)
            again = await post(first, PRODUCT, {"id": product_id})
            assert again.headers["x-response-cache"] == "MISS"
            assert again.json() == executed.json()
    finally:
        await redis.aclose()


async def test_what_is_never_cached(shared: tuple[GraphQLClient, GraphQLClient, str]) -> None:
    first, _, _ = shared
    token, _ = await first.register("never")
    for query in (
        "{ me { username } }",
        "{ recommendations(first: 2) { product { id } explanation { text cached } } }",
        "query { trending(first: 2) { id } me { username } }",
    ):
        for _ in range(2):
            response = await post(first, query, {}, token)
            assert "x-response-cache" not in response.headers, query
    for _ in range(2):
        response = await post(first, "mutation { startVisit { token } }", {})
        assert "x-response-cache" not in response.headers


async def test_cached_answers_are_billed_to_the_rate_limit_like_executed_ones(
    sample_database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=sample_database_url,
        model_dir=tmp_path / "models",
        rate_limit_points_per_minute=3,
    )
    async with running_client(settings) as client:
        product_id = (await product_ids_of(client))[0]
        remaining = []
        for _ in range(3):
            response = await client.post(PRODUCT, {"id": product_id})
            body = response.json()
            assert body["data"]["product"]["id"] == product_id
            remaining.append(body["extensions"]["cost"]["remaining"])
        assert response.headers["x-response-cache"] == "HIT"
        assert remaining == sorted(remaining, reverse=True) and remaining[-1] < remaining[0]
        refused = None
        for _ in range(3):
            refused = (await client.post(PRODUCT, {"id": product_id})).json()
            if "errors" in refused:
                break
        assert refused is not None
        assert refused["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def product_ids_of(client: GraphQLClient) -> list[str]:
    """Product ids from the catalog (this client's own rate-limit bucket is not touched:
    the look-up goes through the app's service)."""
    page = await client.app.state.services.catalog.list_products(ProductFilter(), 3, None)
    return [to_base64("Product", row.id) for row in page.items]
