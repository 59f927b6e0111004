"""Recommendations over GraphQL: cold start, fold-in, access rules, similar, trending."""

from tests.conftest import GraphQLClient

RECOMMEND = """query($first: Int!, $category: String) {
  recommendations(first: $first, category: $category) {
    rank score collaborativeScore contentScore
    product { id sku name category }
    reasons { kind weight detail products { sku } }
  }
}"""
RECORD = """mutation($id: ID!, $type: InteractionType!) {
  recordInteraction(productId: $id, type: $type) { errors { code } }
}"""


async def product_ids(client: GraphQLClient, first: int = 50) -> list[str]:
    page = await client.data(
        "query($n: Int!) { products(first: $n) { edges { node { id } } } }", {"n": first}
    )
    return [edge["node"]["id"] for edge in page["products"]["edges"]]


async def test_a_fresh_customer_gets_trending_products(client: GraphQLClient) -> None:
    token, _ = await client.register("fresh")
    items = (await client.data(RECOMMEND, {"first": 10}, token))["recommendations"]
    trending = (await client.data("{ trending(first: 10) { id } }"))["trending"]
    assert len(items) == 10
    assert [item["rank"] for item in items] == list(range(1, 11))
    assert [item["product"]["id"] for item in items] == [product["id"] for product in trending]
    assert all(item["reasons"][0]["kind"] == "TRENDING" for item in items)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0


async def test_cart_adds_change_the_list_and_a_purchase_removes_the_product(
    client: GraphQLClient,
) -> None:
    token, _ = await client.register("shopper")
    before = (await client.data(RECOMMEND, {"first": 10}, token))["recommendations"]
    carted = (await product_ids(client))[10:13]
    for product_id in carted:
        assert (await client.data(RECORD, {"id": product_id, "type": "CART_ADD"}, token))[
            "recordInteraction"
        ]["errors"] == []
    after = (await client.data(RECOMMEND, {"first": 10}, token))["recommendations"]
    assert [i["product"]["id"] for i in after] != [i["product"]["id"] for i in before]
    assert any(reason["kind"] != "TRENDING" for item in after for reason in item["reasons"])

    bought = after[0]["product"]["id"]
    await client.data(RECORD, {"id": bought, "type": "PURCHASE"}, token)
    final = (await client.data(RECOMMEND, {"first": 10}, token))["recommendations"]
    assert bought not in [item["product"]["id"] for item in final]
    assert len(final) == 10


async def test_personal_reasons_name_the_customers_products(client: GraphQLClient) -> None:
    token, _ = await client.register("reasons")
    ids = await product_ids(client)
    for product_id in ids[:3]:
        await client.data(RECORD, {"id": product_id, "type": "PURCHASE"}, token)
    items = (await client.data(RECOMMEND, {"first": 10}, token))["recommendations"]
    personal = [r for item in items for r in item["reasons"] if r["kind"] == "SIMILAR_TO_PURCHASED"]
    assert personal, items
    own = set()
    for product_id in ids[:3]:
        own.add(
            (await client.data("query($id: ID!) { product(id: $id) { sku } }", {"id": product_id}))[
                "product"
            ]["sku"]
        )
    assert all({p["sku"] for p in reason["products"]} <= own for reason in personal)
    assert all(0 <= reason["weight"] <= 1 for item in items for reason in item["reasons"])


async def test_admins_read_any_customers_list_customers_only_their_own(
    client: GraphQLClient,
) -> None:
    token_a, id_a = await client.register("owner")
    token_b, _ = await client.register("snoop")
    query = "query($u: ID!) { recommendations(userId: $u, first: 3) { product { sku } } }"
    own = await client.data(query, {"u": id_a}, token_a)
    assert len(own["recommendations"]) == 3
    refused = await client.query(query, {"u": id_a}, token_b)
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await client.query("{ recommendations { rank } }")
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    admin = await client.admin_token()
    assert (await client.data(query, {"u": id_a}, admin))["recommendations"] == own[
        "recommendations"
    ]


async def test_one_recommendation_by_product(client: GraphQLClient) -> None:
    token, _ = await client.register("why")
    items = (await client.data(RECOMMEND, {"first": 5}, token))["recommendations"]
    third = items[2]
    one = await client.data(
        "query($p: ID!) { recommendation(productId: $p) { rank score product { id } } }",
        {"p": third["product"]["id"]},
        token,
    )
    assert one["recommendation"] == {
        "rank": 3,
        "score": third["score"],
        "product": {"id": third["product"]["id"]},
    }
    missing = await client.data(
        'query { recommendation(productId: "UHJvZHVjdDo5OTk5OTk=") { rank } }', token=token
    )
    assert missing["recommendation"] is None


async def test_similar_and_trending_for_visitors(client: GraphQLClient) -> None:
    popular = (await client.data("{ trending(first: 5) { id sku purchaseCount } }"))["trending"]
    assert len(popular) == 5
    similar = await client.data(
        "query($id: ID!) { product(id: $id) { similar(first: 6) { id sku } } }",
        {"id": popular[0]["id"]},
    )
    neighbours = similar["product"]["similar"]
    assert 0 < len(neighbours) <= 6
    assert popular[0]["id"] not in [product["id"] for product in neighbours]
    body = await client.query("{ trending(first: 500) { id } }")
    assert body["errors"][0]["extensions"]["field"] == "first"


async def test_model_info_is_for_admins(client: GraphQLClient) -> None:
    query = "{ modelInfo { version trainedAt trainSeconds events users products algorithm } }"
    token, _ = await client.register("curious")
    assert (await client.query(query, token=token))["errors"][0]["extensions"][
        "code"
    ] == "FORBIDDEN"
    info = (await client.data(query, token=await client.admin_token()))["modelInfo"]
    assert info["version"] >= 1 and info["products"] >= 300 and info["users"] >= 250
    assert info["events"] >= 13_000


async def test_an_archived_product_leaves_every_list_at_once(client: GraphQLClient) -> None:
    token, _ = await client.register("archive")
    before = (await client.data(RECOMMEND, {"first": 10}, token))["recommendations"]
    archived = before[1]["product"]["id"]
    admin = await client.admin_token()
    await client.data(
        "mutation($id: ID!) { deleteProduct(id: $id) { errors { code } } }", {"id": archived}, admin
    )
    try:
        after = (await client.data(RECOMMEND, {"first": 10}, token))["recommendations"]
        assert archived not in [item["product"]["id"] for item in after]
        assert [item["rank"] for item in after] == list(range(1, len(after) + 1))
        one = await client.data(
            "query($p: ID!) { recommendation(productId: $p) { rank } }", {"p": archived}, token
        )
        assert one["recommendation"] is None
    finally:
        await restore(client, archived)


async def restore(client: GraphQLClient, product_id: str) -> None:
    """Un-archive a product of the shared sample database (there is no mutation for it)."""
    from sqlalchemy import update

    from app.models import Product
    from schema.types.common import decode_id

    services = client.app.state.services
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Product)
            .where(Product.id == decode_id(product_id, "Product"))
            .values(deleted_at=None)
        )
