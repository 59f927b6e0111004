"""GraphiQL at GET /graphql for browsers: our own build from web/dist (same-origin assets only,
under the strict CSP), a plain hint when the web app is not built, off in production unless
GRAPHIQL=true turns it (and the introspection it needs) on."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from tests.conftest import GraphQLClient, fresh_database, running_client

HTML = {"accept": "text/html,application/xhtml+xml"}
STRONG_SECRET = "a-production-secret-of-more-than-32-characters"
INTROSPECTION = "{ __schema { queryType { name } } }"


@asynccontextmanager
async def app_client(tmp_path: Path, **overrides: Any) -> AsyncIterator[GraphQLClient]:
    async with fresh_database("sqlite", tmp_path) as url:
        async with running_client(Settings(database_url=url, **overrides)) as client:
            yield client


def small_dist(tmp_path: Path) -> Path:
    """A web/dist with a shop page and a GraphiQL page, for the switches (not the build)."""
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text('<div id="root"></div>')
    (dist / "graphiql.html").write_text('<div id="graphiql"></div>')
    return dist


class References(HTMLParser):
    """Every `src` and `href` in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def assert_strict_csp(headers: Any) -> None:
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


async def test_graphiql_is_our_build_with_same_origin_assets_under_the_csp(
    tmp_path: Path,
) -> None:
    dist = Settings().web_dist
    if not (dist / "graphiql.html").is_file():
        pytest.skip("web/dist is not built: run `make web-build` (make test does)")
    async with app_client(tmp_path) as client:
        page = await client.http.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert_strict_csp(page.headers)
        parser = References()
        parser.feed(page.text)
        scripts = [url for url in parser.urls if url.endswith(".js")]
        styles = [url for url in parser.urls if url.endswith(".css")]
        assert scripts and styles, parser.urls
        for url in parser.urls:
            assert url.startswith("/") and not url.startswith("//"), f"not same-origin: {url}"
            asset = await client.http.get(url)
            assert asset.status_code == 200, url
        # The shop's entry is not part of the page (GraphiQL is its own bundle).
        assert not any("/shop-" in url for url in scripts), scripts


async def test_without_a_web_build_graphiql_says_how_to_build_it(tmp_path: Path) -> None:
    async with app_client(tmp_path, web_dist=tmp_path / "not-built") as client:
        page = await client.http.get("/graphql", headers=HTML)
        assert page.status_code == 503
        assert page.headers["content-type"].startswith("text/plain")
        assert "make web-build" in page.text
        assert "/" + tmp_path.name not in page.text  # no server path
        assert_strict_csp(page.headers)
        ok = await client.http.get("/graphql", params={"query": "{ __typename }"})
        assert ok.json()["data"] == {"__typename": "Query"}


async def test_the_graphiql_page_is_served_only_at_graphql(tmp_path: Path) -> None:
    async with app_client(tmp_path, web_dist=small_dist(tmp_path)) as client:
        assert 'id="graphiql"' in (await client.http.get("/graphql", headers=HTML)).text
        by_name = await client.http.get("/graphiql.html")
        assert 'id="graphiql"' not in by_name.text and 'id="root"' in by_name.text


async def test_production_serves_graphiql_only_when_graphiql_is_turned_on(
    tmp_path: Path,
) -> None:
    production = {"app_env": "production", "jwt_secret": STRONG_SECRET}
    dist = small_dist(tmp_path)
    async with app_client(tmp_path, web_dist=dist, **production) as client:
        page = await client.http.get("/graphql", headers=HTML)
        assert 'id="graphiql"' not in page.text
        refused = await client.post(INTROSPECTION)
        assert "introspection" in refused.json()["errors"][0]["message"].lower()
    async with app_client(tmp_path, web_dist=dist, graphiql=True, **production) as client:
        page = await client.http.get("/graphql", headers=HTML)
        assert page.status_code == 200 and 'id="graphiql"' in page.text
        assert_strict_csp(page.headers)
        assert (await client.data(INTROSPECTION))["__schema"]["queryType"]["name"] == "Query"
