"""Browsing the catalog over GraphQL: cursors, filters, search, look-ups, admin edits."""

from tests.conftest import GraphQLClient

PAGE = """
query($first: Int!, $after: String, $search: String, $category: String,
      $min: Float, $max: Float) {
  products(first: $first, after: $after, search: $search, category: $category,
           minPrice: $min, maxPrice: $max) {
    totalCount
    edges { cursor node { id sku name description tags price category } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def walk(client: GraphQLClient, first: int, **filters: object) -> tuple[list[dict], int]:
    nodes: list[dict] = []
    after = None
    total = -1
    while True:
        page = (await client.data(PAGE, {"first": first, "after": after, **filters}))["products"]
        total = page["totalCount"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes, total
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]


async def test_cursor_pages_cover_the_catalog_once(client: GraphQLClient) -> None:
    nodes, total = await walk(client, 37)
    assert total == 300 and len(nodes) == 300
    assert len({node["id"] for node in nodes}) == 300


async def test_page_size_outside_1_to_100_is_a_clear_error(client: GraphQLClient) -> None:
    for first in (0, 101, -5):
        body = await client.query(PAGE, {"first": first})
        error = body["errors"][0]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}
        assert "`first` must be between 1 and 100" in error["message"]


async def test_a_foreign_cursor_is_refused(client: GraphQLClient) -> None:
    body = await client.query(PAGE, {"first": 5, "after": "bm90LWEtY3Vyc29y"})
    assert body["errors"][0]["extensions"]["field"] == "after"


async def test_search_matches_words_case_insensitively(client: GraphQLClient) -> None:
    nodes, total = await walk(client, 100, search="HeArT")
    assert total == len(nodes) > 5
    for node in nodes:
        text = " ".join([node["name"], node["description"], *node["tags"]]).lower()
        assert "heart" in text
    both, _ = await walk(client, 100, search="heart holder")
    assert 0 < len(both) < len(nodes)
    assert all("holder" in node["name"].lower() for node in both)


async def test_search_text_is_plain_text(client: GraphQLClient) -> None:
    for search in ("%'; DROP TABLE products; --", "100%", "_"):
        page = (await client.data(PAGE, {"first": 10, "search": search}))["products"]
        assert page["totalCount"] == 0
    _, total = await walk(client, 100)
    assert total == 300


async def test_price_filters_bound_the_prices(client: GraphQLClient) -> None:
    nodes, _ = await walk(client, 100, min=1.0, max=2.5)
    assert nodes and all(1.0 <= node["price"] <= 2.5 for node in nodes)
    body = await client.query(PAGE, {"first": 5, "min": -1.0})
    assert body["errors"][0]["extensions"]["field"] == "minPrice"


async def test_product_lookups_by_id_node_and_sku(client: GraphQLClient) -> None:
    first = (await client.data(PAGE, {"first": 1}))["products"]["edges"][0]["node"]
    data = await client.data(
        """query($id: ID!, $sku: String!) {
             product(id: $id) { sku }
             node(id: $id) { id ... on Product { name } }
             productBySku(sku: $sku) { id }
           }""",
        {"id": first["id"], "sku": first["sku"]},
    )
    assert data["product"]["sku"] == first["sku"]
    assert data["node"] == {"id": first["id"], "name": first["name"]}
    assert data["productBySku"]["id"] == first["id"]
    body = await client.query('{ product(id: "garbage") { sku } }')
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}
    for bad in ("0", "garbage", "Tm9wZTox"):
        body = await client.query("query($id: ID!) { node(id: $id) { id } }", {"id": bad})
        assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}


CREATE = """mutation($input: CreateProductInput!) {
  createProduct(input: $input) { product { id sku category price tags } errors { field code } }
}"""


async def test_admins_manage_products_and_categories(client: GraphQLClient) -> None:
    admin = await client.admin_token()
    sku = "TEST-LAMP-1"
    created = (
        await client.data(
            CREATE,
            {
                "input": {
                    "sku": sku,
                    "name": "Brass Desk Lamp",
                    "price": 19.5,
                    "category": "Lighting",
                    "tags": ["brass", "desk"],
                }
            },
            admin,
        )
    )["createProduct"]
    assert created["errors"] == []
    product_id = created["product"]["id"]
    assert "Lighting" in (await client.data("{ categories }"))["categories"]
    nodes, _ = await walk(client, 10, category="Lighting")
    assert [node["sku"] for node in nodes] == [sku]
    nodes, _ = await walk(client, 10, search="brass")
    assert [node["sku"] for node in nodes] == [sku]

    duplicate = await client.data(CREATE, {"input": {"sku": sku, "name": "x", "price": 1}}, admin)
    assert duplicate["createProduct"]["errors"] == [{"field": "sku", "code": "CONFLICT"}]
    negative = await client.data(CREATE, {"input": {"sku": "N1", "name": "x", "price": -1}}, admin)
    assert negative["createProduct"]["errors"] == [{"field": "price", "code": "BAD_USER_INPUT"}]

    updated = await client.data(
        "mutation($id: ID!) { updateProduct(id: $id, input: {price: 21.25}) "
        "{ product { price name } errors { field } } }",
        {"id": product_id},
        admin,
    )
    assert updated["updateProduct"]["product"] == {"price": 21.25, "name": "Brass Desk Lamp"}

    deleted = await client.data(
        "mutation($id: ID!) { deleteProduct(id: $id) { product { sku } errors { field } } }",
        {"id": product_id},
        admin,
    )
    assert deleted["deleteProduct"]["errors"] == []
    assert (await client.data("query($id: ID!) { product(id: $id) { sku } }", {"id": product_id}))[
        "product"
    ] is None
    nodes, _ = await walk(client, 10, category="Lighting")
    assert nodes == []


async def test_customers_and_visitors_cannot_manage_products(client: GraphQLClient) -> None:
    token, _ = await client.register()
    variables = {"input": {"sku": "NOPE-1", "name": "Nope", "price": 1}}
    for caller in (token, None):
        body = await client.query(CREATE, variables, caller)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] in {"FORBIDDEN", "UNAUTHENTICATED"}
    assert (await client.data('{ productBySku(sku: "NOPE-1") { id } }'))["productBySku"] is None
