"""Event ingestion over GraphQL against real server processes, next to a minimal Strawberry app.

Prints one JSON line. Per backend (SQLite, PostgreSQL): single `recordInteraction` calls from 32
connections (wrk) in rounds alternating with the minimal app's `{ __typename }`, and
`recordInteractions` batches of 100; every event carries a unique `clientEventId`. Afterwards the
database is counted: acknowledged events must all be stored, each once (stored - acknowledged
are calls still in flight when wrk stopped, at most one per connection and round). Then an exact
check: 32 concurrent clients record single events and batches, retry every batch, and the stored
keys must equal the acknowledged ones with no duplicate and no retried event stored again. The
first models are trained before the server starts and the server's trainer is external, so
nothing trains while we measure (as in a deployment with the trainer on its own host).

    python -m bench.ingest [--backends sqlite,postgresql] [--seconds 9] [--workers 1] [--short]
"""

import argparse
import asyncio
import base64
import json
import secrets
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from app.db import create_engine
from app.models import Interaction, Product
from app.settings import Settings
from bench._support import (
    ROOT,
    customer_tokens,
    minimal_server,
    run_cli,
    server,
    temporary_database,
    wrk,
)
from bench.api_recommendations import ROUNDS

SAMPLE = str(ROOT / "app" / "sample_data")
TYPENAME = json.dumps({"query": "{ __typename }"})
BATCH = """mutation($e: [InteractionInput!]!) {
  recordInteractions(events: $e) { stored results { new } errors { index code } } }"""
SINGLE = """mutation($p: ID!, $k: String) {
  recordInteraction(productId: $p, type: VIEW, clientEventId: $k) { interaction { id } } }"""


def product_ids(url: str, count: int = 50) -> list[str]:
    async def load() -> list[int]:
        engine = create_engine(Settings(database_url=url))
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Product.id).where(Product.deleted_at.is_(None)).limit(count)
            )
            ids = [row[0] for row in rows]
        await engine.dispose()
        return ids

    return [base64.b64encode(f"Product:{pid}".encode()).decode() for pid in asyncio.run(load())]


def count_stored(url: str, prefix: str) -> dict[str, int]:
    """Stored events whose key starts with `prefix`, and the distinct (user, key) pairs."""

    async def count() -> dict[str, int]:
        engine = create_engine(Settings(database_url=url))
        like = Interaction.client_event_id.like(f"{prefix}%")
        async with engine.connect() as connection:
            stored = await connection.scalar(select(func.count()).where(like))
            distinct = await connection.scalar(
                select(func.count()).select_from(
                    select(Interaction.user_id, Interaction.client_event_id)
                    .where(like)
                    .distinct()
                    .subquery()
                )
            )
        await engine.dispose()
        return {"stored": int(stored or 0), "distinct": int(distinct or 0)}

    return asyncio.run(count())


def stored_keys(url: str, prefix: str) -> list[str]:
    async def load() -> list[str]:
        engine = create_engine(Settings(database_url=url))
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Interaction.client_event_id).where(
                    Interaction.client_event_id.like(f"{prefix}%")
                )
            )
            keys = [row[0] for row in rows]
        await engine.dispose()
        return keys

    return asyncio.run(load())


async def exact_check(
    base: str, tokens: list[str], products: list[str], clients: int, batches: int
) -> dict[str, Any]:
    """Single events and batches from `clients` concurrent clients, every batch sent twice;
    returns the acknowledged keys and how many retried events came back as new."""
    acknowledged: list[str] = []
    new_on_retry = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def post(query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
            response = await http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"authorization": f"Bearer {token}"},
            )
            return dict(response.json())

        async def client(number: int) -> None:
            nonlocal new_on_retry
            token = tokens[number % len(tokens)]
            for n in range(5):
                key = f"X-s-{number}-{n}"
                body = await post(SINGLE, {"p": products[n % len(products)], "k": key}, token)
                if "errors" not in body and body["data"]["recordInteraction"]["interaction"]:
                    acknowledged.append(key)
            for n in range(batches):
                events = [
                    {
                        "productId": products[i % len(products)],
                        "type": "VIEW",
                        "clientEventId": f"X-b-{number}-{n}-{i}",
                    }
                    for i in range(100)
                ]
                first = await post(BATCH, {"e": events}, token)
                retry = await post(BATCH, {"e": events}, token)
                if "errors" not in first and not first["data"]["recordInteractions"]["errors"]:
                    acknowledged.extend(event["clientEventId"] for event in events)
                if "errors" not in retry:
                    results = retry["data"]["recordInteractions"]["results"]
                    new_on_retry += sum(1 for item in results if item["new"])

        await asyncio.gather(*(client(number) for number in range(clients)))
    return {"acknowledged": acknowledged, "new_on_retry": new_on_retry}


def measure(backend: str, args: argparse.Namespace, secret: str) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    with temporary_database(backend) as url, tempfile.TemporaryDirectory() as models:
        env = {
            "JWT_SECRET": secret,
            "MODEL_TTL_SECONDS": "3600",
            "MODEL_RETRAIN_EVENTS": "1000000000",
            "RATE_LIMIT_POINTS_PER_MINUTE": "0",
            "MODEL_DIR": models,
            "TRAINER": "external",  # the first models are trained below, as a deployment does
        }
        run_cli(url, "db", "upgrade", extra_env=env)
        run_cli(url, "import", args.dataset, extra_env=env)
        run_cli(url, "train", extra_env=env)
        tokens = customer_tokens(url, args.customers, secret)
        products = product_ids(url)
        with (
            server(url, extra_env=env, workers=args.workers) as base,
            minimal_server() as reference_base,
            httpx.Client(base_url=base, timeout=120) as http,
        ):
            warm = http.post("/graphql", json={"query": "{ trending(first: 1) { id } }"})
            assert "errors" not in warm.json(), warm.text

            def ingest_env(mode: str, tag: str) -> dict[str, str]:
                """wrk's environment: keys `<tag><run>.<fresh>-<thread>-<n>`, new per wrk run."""
                return {
                    "MODE": mode,
                    "BATCH": "100",
                    "RUN": f"{tag}{run}.{uuid.uuid4().hex[:6]}",
                    "PRODUCTS_FILE": products_file,
                }

            with tempfile.TemporaryDirectory() as directory:
                products_file = str(Path(directory) / "products.txt")
                Path(products_file).write_text("\n".join(products))
                single, reference = alternate(
                    lambda seconds: wrk(
                        base,
                        "",
                        tokens,
                        seconds,
                        args.connections,
                        "ingest.lua",
                        ingest_env("single", "S"),
                    ),
                    lambda seconds: wrk(
                        reference_base + "/", TYPENAME, [], seconds, args.connections
                    ),
                    args.seconds,
                )
                single_acked = int(single["acknowledged"])
                batch = wrk(
                    base,
                    "",
                    tokens,
                    args.seconds,
                    args.batch_connections,
                    "ingest.lua",
                    ingest_env("batch", "B"),
                )
            print(f"{backend}: load done", file=sys.stderr)
            check = asyncio.run(
                exact_check(base, tokens, products, args.connections, args.check_batches)
            )
        single_counts = count_stored(url, f"S{run}")
        batch_counts = count_stored(url, f"B{run}")
        keys = stored_keys(url, "X-")
    acked_keys = check["acknowledged"]
    return {
        "single": {
            "connections": args.connections,
            **single,
            "acknowledged_events": single_acked,
            **single_counts,
            "in_flight_at_stop": single_counts["stored"] - single_acked,
        },
        "minimal_strawberry_typename": reference,
        "single_throughput_ratio": round(single["rps"] / reference["rps"], 3),
        "batch_100": {
            "connections": args.batch_connections,
            **batch,
            "events_per_second": round(batch["acknowledged"] * 100 / batch["seconds"], 1),
            "acknowledged_events": batch["acknowledged"] * 100,
            **batch_counts,
            "in_flight_at_stop": batch_counts["stored"] - batch["acknowledged"] * 100,
        },
        "exact_check": {
            "acknowledged": len(acked_keys),
            "stored": len(keys),
            "acknowledged_all_stored": set(acked_keys) <= set(keys),
            "duplicates": len(keys) - len(set(keys)),
            "unacknowledged_stored": len(set(keys) - set(acked_keys)),
            "retried_events_stored_again": check["new_on_retry"],
        },
    }


def alternate(
    target: Callable[[int], dict], reference: Callable[[int], dict], seconds: int
) -> tuple[dict, dict]:
    """Both loads in alternating rounds (background noise falls on both alike); each side's
    merged summary: totals, rps, the worst round's p50/p99, and acknowledged responses."""
    rounds: dict[str, list[dict]] = {"target": [], "reference": []}
    for _ in range(ROUNDS):
        rounds["target"].append(target(max(1, seconds // ROUNDS)))
        rounds["reference"].append(reference(max(1, seconds // ROUNDS)))

    def merged(results: list[dict]) -> dict:
        requests = sum(r["requests"] for r in results)
        elapsed = sum(r["seconds"] for r in results)
        summary = {
            "requests": requests,
            "seconds": round(elapsed, 2),
            "rps": round(requests / elapsed, 1),
            "p50_ms": max(r["p50_ms"] for r in results),
            "p99_ms": max(r["p99_ms"] for r in results),
            "errors": sum(r["errors"] for r in results),
        }
        if "acknowledged" in results[0]:
            summary["acknowledged"] = sum(r["acknowledged"] for r in results)
        return summary

    return merged(rounds["target"]), merged(rounds["reference"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=9)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--check-batches", type=int, default=3)
    parser.add_argument("--dataset", default=SAMPLE)
    parser.add_argument("--short", action="store_true", help="3 s per phase, 20 customers")
    args = parser.parse_args()
    if args.short:
        args.seconds, args.customers, args.check_batches = 3, 20, 1
    secret = secrets.token_urlsafe(32)
    results = {
        backend: measure(backend, args, secret) for backend in args.backends.split(",") if backend
    }
    print(json.dumps({"bench": "ingest", "short": args.short, "workers": args.workers, **results}))


if __name__ == "__main__":
    main()
