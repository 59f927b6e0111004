"""Recommendations over GraphQL against real server processes, next to a minimal Strawberry app.

Prints one JSON line: one client's p50/p99 for a warm customer, then 32 concurrent clients (wrk)
rotating over 100 warm customers, and the `{ __typename }` throughput of a minimal Strawberry app
measured in the same run, with the ratio between the two.

    python -m bench.api_recommendations [--backend sqlite|postgresql] [--workers 1] [--seconds 10]
"""

import argparse
import json
import secrets
import sys
import time

import httpx

from bench._support import (
    DATASET,
    customer_tokens,
    minimal_server,
    run_cli,
    server,
    summary_ms,
    temporary_database,
    wrk,
)

QUERY = "{ recommendations(first: 10) { score product { id name price } } }"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--dataset", default=str(DATASET))
    args = parser.parse_args()
    secret = secrets.token_urlsafe(32)
    body = json.dumps({"query": QUERY})
    with temporary_database(args.backend) as url:
        run_cli(url, "db", "upgrade")
        run_cli(url, "import", args.dataset)
        tokens = customer_tokens(url, args.customers, secret)
        env = {
            "JWT_SECRET": secret,
            "MODEL_TTL_SECONDS": "3600",
            "RATE_LIMIT_POINTS_PER_MINUTE": "0",
        }
        with server(url, extra_env=env, workers=args.workers) as base:
            with httpx.Client(base_url=base, timeout=120) as client:
                headers = {"authorization": f"Bearer {tokens[0]}"}
                for token in tokens:
                    warm = client.post(
                        "/graphql",
                        json={"query": QUERY},
                        headers={"authorization": f"Bearer {token}"},
                    )
                    assert "errors" not in warm.json(), warm.text
                samples = []
                for _ in range(300):
                    started = time.perf_counter()
                    response = client.post("/graphql", json={"query": QUERY}, headers=headers)
                    samples.append(time.perf_counter() - started)
                    assert len(response.json()["data"]["recommendations"]) == 10
            print("single client done", file=sys.stderr)
            loaded = wrk(base, body, tokens, args.seconds, args.connections)
        print("recommendations under load done", file=sys.stderr)
    with minimal_server() as base:
        reference = wrk(
            base + "/", json.dumps({"query": "{ __typename }"}), [], args.seconds, args.connections
        )
    print(
        json.dumps(
            {
                "bench": "api_recommendations",
                "backend": args.backend,
                "workers": args.workers,
                "customers": len(tokens),
                "single_client": summary_ms(samples),
                "concurrent": {"connections": args.connections, **loaded},
                "minimal_strawberry_typename": reference,
                "throughput_ratio": round(loaded["rps"] / reference["rps"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
