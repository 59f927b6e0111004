"""Recommendations over GraphQL against real server processes, next to a minimal Strawberry app.

Prints one JSON line: one client's p50/p99 for a warm customer, then 32 concurrent clients (wrk)
rotating over 100 warm customers, and the `{ __typename }` throughput of a minimal Strawberry app
measured in the same run (alternating rounds, so background noise falls on both), and the ratio.

    python -m bench.api_recommendations [--backend sqlite|postgresql] [--workers 1]
        [--seconds 9] [--redis]     # --redis: shared caches in the local Redis (production shape)
"""

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable

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
REDIS_URL = "redis://127.0.0.1:6379/0"
TYPENAME = json.dumps({"query": "{ __typename }"})
ROUNDS = 3


def alternate(
    target: Callable[[int], dict], reference: Callable[[int], dict], seconds: int
) -> tuple[dict, dict]:
    """Run both loads in alternating rounds, so that background noise falls on both alike;
    returns each side's merged summary (requests, rps, errors, and the worst round's p50/p99)."""
    rounds: dict[str, list[dict]] = {"target": [], "reference": []}
    slice_seconds = max(1, seconds // ROUNDS)
    for _ in range(ROUNDS):
        rounds["target"].append(target(slice_seconds))
        rounds["reference"].append(reference(slice_seconds))

    def merged(results: list[dict]) -> dict:
        requests = sum(r["requests"] for r in results)
        elapsed = sum(r["seconds"] for r in results)
        return {
            "requests": requests,
            "seconds": round(elapsed, 2),
            "rps": round(requests / elapsed, 1),
            "p50_ms": max(r["p50_ms"] for r in results),
            "p99_ms": max(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results),
        }

    return merged(rounds["target"]), merged(rounds["reference"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=9)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--dataset", default=str(DATASET))
    parser.add_argument("--redis", action="store_true", help="share caches through local Redis")
    args = parser.parse_args()
    secret = secrets.token_urlsafe(32)
    body = json.dumps({"query": QUERY})
    with temporary_database(args.backend) as url, tempfile.TemporaryDirectory() as models:
        env = {
            "JWT_SECRET": secret,
            "MODEL_TTL_SECONDS": "3600",
            "RATE_LIMIT_POINTS_PER_MINUTE": "0",
            "MODEL_DIR": models,
            "TRAINER": "external",  # one round below; nothing trains while we measure
        }
        run_cli(url, "db", "upgrade", extra_env=env)
        run_cli(url, "import", args.dataset, extra_env=env)
        run_cli(url, "train", extra_env=env)
        tokens = customer_tokens(url, args.customers, secret)
        if args.redis:
            env |= {"REDIS_URL": REDIS_URL, "REDIS_NAMESPACE": f"bench-{secrets.token_hex(4)}"}
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
                "redis": args.redis,
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
