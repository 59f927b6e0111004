"""Import Online Retail into SQLite and PostgreSQL, then time `products(first: 20)` over HTTP.

Prints one JSON line: per backend the import wall time, its peak RSS, and the median/p99 latency
of `products(first: 20)` from one client against a real server process.
"""

import json
import sys
import time

import httpx

from bench._support import DATASET, run_cli, server, summary_ms, temporary_database

QUERY = (
    "{ products(first: 20) { edges { cursor node { id sku name price } } "
    "pageInfo { hasNextPage endCursor } } }"
)
REQUESTS = 300


def main() -> None:
    result: dict[str, object] = {"bench": "import_and_catalog", "dataset": DATASET.name}
    for backend in ("sqlite", "postgresql"):
        with temporary_database(backend) as url:
            run_cli(url, "db", "upgrade")
            seconds, peak_mb, stdout = run_cli(url, "import", str(DATASET))
            report = json.loads(stdout)
            with (
                server(url, extra_env={"RATE_LIMIT_POINTS_PER_MINUTE": "0"}) as base,
                httpx.Client(base_url=base, timeout=120) as client,
            ):
                client.post("/graphql", json={"query": "{ trending(first: 1) { id } }"})
                for _ in range(20):
                    client.post("/graphql", json={"query": QUERY}).raise_for_status()
                samples = []
                for _ in range(REQUESTS):
                    started = time.perf_counter()
                    response = client.post("/graphql", json={"query": QUERY})
                    samples.append(time.perf_counter() - started)
                    assert "errors" not in response.json()
            result[backend] = {
                "import_seconds": round(seconds, 2),
                "import_peak_rss_mb": peak_mb,
                "events_imported": report["events_imported"],
                "products": report["products"],
                "products_first_20": summary_ms(samples),
            }
        print(f"{backend} done", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
