"""Issue 15 through the API on SQLite and PostgreSQL: trending needs distinct customers (a few
test customers cannot take it over), many buyers move a product up, and a product in the open
cart leaves the customer's picks at once. The bundled sample history is from 2011 and the
events recorded here are from today, as on the demo shop; a real trainer round publishes."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.db import create_engine
from app.services.imports import import_dataset
from app.settings import Settings
from tests.conftest import SAMPLE_DIR, GraphQLClient, running_client, train

RECORD = """mutation($id: ID!, $type: InteractionType!) {
  recordInteraction(productId: $id, type: $type) { errors { code } }
}"""
PICKS = "query($n: Int!) { recommendations(first: $n) { product { id } } }"


@dataclass
class Shop(GraphQLClient):
    """A client of the app that also knows its settings (to run trainer rounds)."""

    settings: Settings | None = None


@pytest.fixture
async def shop(empty_database_url: str, tmp_path: Path) -> AsyncIterator[Shop]:
    """The sample shop with a first model published, on a fresh database."""
    settings = Settings(
        database_url=empty_database_url,
        rate_limit_points_per_minute=0,
        model_dir=tmp_path / "models",
    )
    engine = create_engine(settings)
    await import_dataset(engine, SAMPLE_DIR)
    await engine.dispose()
    async with running_client(settings, trained=True) as client:
        yield Shop(http=client.http, app=client.app, settings=settings)


async def retrain(shop: Shop) -> None:
    """One trainer round, then the API loads the new model (as its poller would)."""
    assert shop.settings is not None
    await train(shop.settings)
    assert await shop.app.state.services.recommendations.registry.refresh()


async def trending(client: GraphQLClient, first: int = 10) -> list[str]:
    data = await client.data("query($n: Int!) { trending(first: $n) { id } }", {"n": first})
    return [product["id"] for product in data["trending"]]


async def record(client: GraphQLClient, token: str, product_id: str, kind: str) -> None:
    result = await client.data(RECORD, {"id": product_id, "type": kind}, token)
    assert result["recordInteraction"]["errors"] == []


async def obscure_products(client: GraphQLClient, count: int) -> list[str]:
    """`count` products far from trending: the least bought of the first 100."""
    page = await client.data("{ products(first: 100) { edges { node { id purchaseCount } } } }")
    nodes = [edge["node"] for edge in page["products"]["edges"]]
    popular = set(await trending(client, 100))
    nodes = [node for node in nodes if node["id"] not in popular]
    nodes.sort(key=lambda node: (node["purchaseCount"], node["id"]))
    return [node["id"] for node in nodes[:count]]


async def picks(client: GraphQLClient, token: str, first: int = 10) -> list[str]:
    data = await client.data(PICKS, {"n": first}, token)
    return [item["product"]["id"] for item in data["recommendations"]]


async def test_two_customers_cannot_take_over_trending_but_many_buyers_move_a_product_up(
    shop: Shop,
) -> None:
    before = await trending(shop)
    assert len(before) == 10
    obscure = await obscure_products(shop, 11)
    clicked, bought = obscure[:10], obscure[10]
    for name in ("tester-a", "tester-b"):
        token, _ = await shop.register(name)
        for n, product_id in enumerate(clicked):
            await record(shop, token, product_id, "CLICK")
            if n % 2:
                await record(shop, token, product_id, "VIEW")
    await retrain(shop)
    assert await trending(shop) == before
    newcomer, _ = await shop.register("newcomer")
    assert await picks(shop, newcomer) == before

    for n in range(6):
        token, _ = await shop.register(f"buyer{n}")
        await record(shop, token, bought, "PURCHASE")
    await retrain(shop)
    after = await trending(shop)
    assert bought not in before and after[0] == bought
    assert not set(clicked) & set(after)


async def test_a_product_in_the_cart_is_not_offered_until_bought_and_then_stays_out(
    shop: Shop,
) -> None:
    token, _ = await shop.register("cart")
    seeds = await obscure_products(shop, 3)
    for product_id in seeds:  # a profile, so the picks are personal
        await record(shop, token, product_id, "PURCHASE")
    first = await picks(shop, token)
    carted = first[0]
    await record(shop, token, carted, "CART_ADD")
    in_cart = await picks(shop, token)
    assert carted not in in_cart and len(in_cart) == 10
    await retrain(shop)  # the cart add is now training data: still out
    assert carted not in await picks(shop, token)
    await record(shop, token, carted, "PURCHASE")
    assert carted not in await picks(shop, token)
