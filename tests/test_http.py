"""GraphQL over HTTP (media types, GET, status codes), health probes and N+1 freedom."""

from pathlib import Path

import httpx
from sqlalchemy import event

from app.settings import Settings
from tests.conftest import GraphQLClient, fresh_database, running_client

GQL_RESPONSE = "application/graphql-response+json"


async def test_get_queries_work_and_get_mutations_do_not(client: GraphQLClient) -> None:
    response = await client.http.get("/graphql", params={"query": "{ categories }"})
    assert response.status_code == 200
    assert "categories" in response.json()["data"]
    mutation = 'mutation { login(username: "a", password: "b") { token } }'
    refused = await client.http.get("/graphql", params={"query": mutation})
    assert refused.status_code == 405


async def test_graphql_response_media_type_and_status_codes(client: GraphQLClient) -> None:
    accept = {"accept": f"{GQL_RESPONSE}, application/json;q=0.9"}
    ok = await client.post("{ categories }", headers=accept)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith(GQL_RESPONSE)

    invalid = await client.post("{ noSuchField }", headers=accept)
    assert invalid.status_code == 400
    body = invalid.json()
    assert "data" not in body
    assert "noSuchField" in body["errors"][0]["message"]

    field_error = await client.post("{ products(first: 500) { totalCount } }", headers=accept)
    assert field_error.status_code == 200
    assert field_error.json()["errors"][0]["extensions"]["field"] == "first"

    legacy = await client.post("{ noSuchField }")
    assert legacy.status_code == 200
    assert legacy.headers["content-type"].startswith("application/json")


async def test_graphiql_is_served_in_development(client: GraphQLClient) -> None:
    page = await client.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_health_probes(client: GraphQLClient) -> None:
    assert (await client.http.get("/healthz")).json() == {"status": "ok"}
    ready = await client.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["migrations"] == "current"


async def test_readyz_fails_while_migrations_are_pending(tmp_path: Path) -> None:
    async with fresh_database("sqlite", tmp_path, migrate=False) as url:
        async with running_client(Settings(database_url=url)) as fresh:
            ready = await fresh.http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["migrations"] == "pending"


NESTED = """query($first: Int!) {
  products(first: $first) {
    totalCount
    edges { node { id sku name price purchaseCount } }
  }
}"""
HISTORY = """{ me { interactions(first: 50) { edges { node {
  type product { name purchaseCount } user { username } } } } } }"""


async def statement_count(
    client: GraphQLClient, query: str, variables: dict, token: str | None = None
) -> int:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = client.app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await client.data(query, variables, token)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


async def test_sql_statements_do_not_grow_with_page_size(client: GraphQLClient) -> None:
    assert client.app.state.services.recommendations.model() is not None
    small = await statement_count(client, NESTED, {"first": 5})
    large = await statement_count(client, NESTED, {"first": 50})
    assert small == large <= 3

    token, _ = await client.register("n-plus-one")
    products = await client.data("{ products(first: 40) { edges { node { id } } } }")
    record = (
        "mutation($id: ID!) { recordInteraction(productId: $id, type: VIEW) { errors { code } } }"
    )
    for edge in products["products"]["edges"][:3]:
        await client.data(record, {"id": edge["node"]["id"]}, token)
    few = await statement_count(client, HISTORY, {}, token)
    for edge in products["products"]["edges"][3:]:
        await client.data(record, {"id": edge["node"]["id"]}, token)
    many = await statement_count(client, HISTORY, {}, token)
    assert few <= 5 and many <= 5, f"{few} then {many} statements: N+1"


async def test_unknown_paths_are_404(client: GraphQLClient) -> None:
    response = await client.http.get("/nope.php")
    assert response.status_code == 404
    assert isinstance(client.http, httpx.AsyncClient)
