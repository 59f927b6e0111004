"""`recommender serve --workers 2`: /metrics adds up every worker's samples (multiprocess mode),
whichever worker answers the scrape."""

import re

import httpx

from bench._support import run_cli, server, temporary_database
from tests.conftest import SAMPLE_DIR

REQUESTS = 40


def sample(metrics: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_two_workers_report_the_sum_of_their_requests() -> None:
    with temporary_database("sqlite") as url:
        run_cli(url, "db", "upgrade")
        run_cli(url, "import", str(SAMPLE_DIR))
        env = {"TRAINER": "external", "RATE_LIMIT_POINTS_PER_MINUTE": "0"}
        with server(url, extra_env=env, workers=2) as base:
            for _ in range(REQUESTS):  # a new connection each: the workers share the load
                with httpx.Client(base_url=base, timeout=10) as client:
                    response = client.post("/graphql", json={"query": "query Probe { categories }"})
                    assert response.status_code == 200
            series = 'recommender_graphql_operation_seconds_count{operation="Probe",type="query"}'
            executed = 'recommender_cache_requests_total{layer="responses",outcome="miss"}'
            hits = 'recommender_cache_requests_total{layer="responses",outcome="hit"}'
            for _ in range(6):  # scrapes land on either worker; each sees the whole server
                with httpx.Client(base_url=base, timeout=10) as client:
                    metrics = client.get("/metrics").text
                assert sample(metrics, series) == REQUESTS
                # Each worker executed the document once and then answered from its cache.
                assert sample(metrics, executed) + sample(metrics, hits) == REQUESTS
                assert 1 <= sample(metrics, executed) <= 2
