"""Recommendations over GraphQL against real server processes, next to a minimal Strawberry app.

Prints one JSON line: one client's p50/p99/max for a warm customer, then 32 concurrent clients
(wrk) rotating over 100 warm customers asking for 10 items with product id, name and price, on
two servers: `cached` (the response cache on and warm: every request a hit) and `uncached`
(`RESPONSE_CACHE_TTL_SECONDS=0`: every request executes, the list cache as usual), and the
`{ __typename }` throughput of a minimal Strawberry app, all in alternating rounds of the same
run (so background noise falls on all alike), with each path's ratio to the minimal app.

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

QUERY = "query Recommendations { recommendations(first: 10) { product { id name price } } }"
REDIS_URL = "redis://127.0.0.1:6379/0"
TYPENAME = json.dumps({"query": "{ __typename }"})
ROUNDS = 3


def rounds(loads: dict[str, Callable[[int], dict]], seconds: int) -> dict[str, dict]:
    """Each load in turn, ROUNDS times (background noise falls on all alike); merged summaries
    (requests, rps, errors, and the worst round's p50/p99/max)."""
    results: dict[str, list[dict]] = {name: [] for name in loads}
    slice_seconds = max(1, seconds // ROUNDS)
    for _ in range(ROUNDS):
        for name, load in loads.items():
            results[name].append(load(slice_seconds))
    merged = {}
    for name, runs in results.items():
        requests = sum(r["requests"] for r in runs)
        elapsed = sum(r["seconds"] for r in runs)
        merged[name] = {
            "requests": requests,
            "seconds": round(elapsed, 2),
            "rps": round(requests / elapsed, 1),
            "p50_ms": max(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
            "max_ms": max(r.get("max_ms", 0.0) for r in runs),
            "errors": sum(r["errors"] for r in runs),
        }
    return merged


def single_client(base: str, token: str) -> dict:
    """One client, one warm customer, 300 requests in a row: p50/p99/max in ms."""
    samples = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for _ in range(300):
            started = time.perf_counter()
            response = client.post(
                "/graphql", json={"query": QUERY}, headers={"authorization": f"Bearer {token}"}
            )
            samples.append(time.perf_counter() - started)
            assert len(response.json()["data"]["recommendations"]) == 10, response.text
    return {**summary_ms(samples), "max_ms": round(max(samples) * 1000, 2)}


def warm(base: str, tokens: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        for token in tokens:
            response = client.post(
                "/graphql", json={"query": QUERY}, headers={"authorization": f"Bearer {token}"}
            )
            assert "errors" not in response.json(), response.text


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
        uncached_env = {**env, "RESPONSE_CACHE_TTL_SECONDS": "0"}
        cached_env = {**env, "RESPONSE_CACHE_TTL_SECONDS": "3600"}
        with (
            server(url, extra_env=cached_env, workers=args.workers) as cached,
            server(url, extra_env=uncached_env, workers=args.workers) as uncached,
            minimal_server() as minimal,
        ):
            warm(cached, tokens)
            warm(uncached, tokens)
            single = {"cached": single_client(cached, tokens[0])}
            single["uncached"] = single_client(uncached, tokens[0])
            print("single client done", file=sys.stderr)
            typename = json.dumps({"query": "{ __typename }"})
            conns = args.connections
            results = rounds(
                {
                    "cached": lambda s: wrk(cached, body, tokens, s, conns),
                    "uncached": lambda s: wrk(uncached, body, tokens, s, conns),
                    "minimal": lambda s: wrk(minimal + "/", typename, [], s, conns),
                },
                args.seconds,
            )
    reference = results["minimal"]["rps"]
    print(
        json.dumps(
            {
                "bench": "api_recommendations",
                "backend": args.backend,
                "workers": args.workers,
                "redis": args.redis,
                "customers": len(tokens),
                "query": QUERY,
                "single_client": single,
                "connections": args.connections,
                "cached": results["cached"],
                "uncached": results["uncached"],
                "minimal_strawberry_typename": results["minimal"],
                "cached_ratio": round(results["cached"]["rps"] / reference, 3),
                "uncached_ratio": round(results["uncached"]["rps"] / reference, 3),
                "targets": {"cached_ratio": 1.0, "uncached_ratio": 0.6},
            }
        )
    )


if __name__ == "__main__":
    main()
