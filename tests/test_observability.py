"""Operators' view: Prometheus series that move with traffic, request ids, JSON log lines."""

import json
import logging
import re

import pytest

from app.observability import JsonFormatter
from tests.conftest import GraphQLClient


def sample(metrics: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_move_with_traffic(client: GraphQLClient) -> None:
    token, _ = await client.register("metrics")
    before = (await client.http.get("/metrics")).text
    await client.data("query Shelf { recommendations(first: 5) { rank } }", token=token)
    await client.data("query Shelf { recommendations(first: 5) { rank } }", token=token)
    await client.query("query Broken { products(first: 0) { totalCount } }")
    after = (await client.http.get("/metrics")).text

    latency = 'recommender_graphql_operation_seconds_count{operation="Shelf",type="query"}'
    assert sample(after, latency) == sample(before, latency) + 2
    errors = 'recommender_graphql_errors_total{code="BAD_USER_INPUT"}'
    assert sample(after, errors) == sample(before, errors) + 1
    served = "recommender_recommendations_served_total"
    assert sample(after, served) == sample(before, served) + 10
    # The repeat is answered by the response cache, before the list cache is asked.
    hits = 'recommender_cache_requests_total{layer="responses",outcome="hit"}'
    assert sample(after, hits) > sample(before, hits)
    assert sample(after, "recommender_model_version") >= 1
    assert "recommender_model_training_seconds_count" in after


async def test_following_a_recommendation_counts_as_click_through(client: GraphQLClient) -> None:
    token, _ = await client.register("ctr")
    items = await client.data("{ recommendations(first: 3) { product { id } } }", token=token)
    series = 'recommender_recommendation_followups_total{type="click"}'
    before = sample((await client.http.get("/metrics")).text, series)
    await client.data(
        "mutation($id: ID!) { recordInteraction(productId: $id, type: CLICK) { errors { code } } }",
        {"id": items["recommendations"][0]["product"]["id"]},
        token,
    )
    assert sample((await client.http.get("/metrics")).text, series) == before + 1


async def test_request_ids_are_echoed_or_made(client: GraphQLClient) -> None:
    given = await client.http.get("/healthz", headers={"x-request-id": "trace-1234abcd"})
    assert given.headers["x-request-id"] == "trace-1234abcd"
    made = await client.http.get("/healthz", headers={"x-request-id": "bad id!"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


async def test_access_log_is_one_json_line_per_request(
    client: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = await client.register("logged")
    caplog.set_level(logging.INFO, logger="app.access")
    await client.http.post(
        "/graphql",
        json={"query": "query Mine { me { username } }"},
        headers={"authorization": f"Bearer {token}", "x-request-id": "req-abcdef123"},
    )
    records = [r for r in caplog.records if r.name == "app.access" and r.path == "/graphql"]
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["message"] == "request"
    assert line["status"] == 200 and line["method"] == "POST"
    assert line["operation"] == "Mine"
    assert isinstance(line["user_id"], int)
    assert line["duration_ms"] >= 0
