"""Serving while the trainer replaces the model: one client's latency across model swaps, and the
API process's resident memory with the model loaded.

An API process (`TRAINER=external`) and a `recommender trainer` process with `MODEL_TTL_SECONDS=5`
(so it retrains as soon as a round ends) run on the Online Retail data set; one connection asks
`recommendations(first: 10)` for warm customers in turn for `--seconds`, with the product's
default per-customer list cache (a swap makes every list recompute once), or with
`--no-list-cache` so that every request scores. Prints one JSON line: p50/p99/max in ms (and the
max within 1 s of a swap), swaps seen by the API (model versions it started serving), trainer
rounds, the API's VmRSS (MB) at the end and at its peak, and the event-loop lag histogram's count
above 50 ms.

    python -m bench.model_swap [--backend sqlite|postgresql] [--seconds 30] [--customers 100]
        [--no-trainer]    # the same without a trainer: the baseline
        [--no-list-cache] # every request scores (the cache's TTL set to 0)
"""

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time

import httpx

from bench._support import (
    CLI,
    DATASET,
    ROOT,
    customer_tokens,
    percentile,
    run_cli,
    server_process,
    temporary_database,
)

QUERY = "{ recommendations(first: 10) { score product { id name price } } }"


def metric(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def rss_mb(pid: int) -> float:
    """VmRSS of process `pid` in MB, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--dataset", default=str(DATASET))
    parser.add_argument(
        "--no-trainer", action="store_true", help="the same without a trainer: the baseline"
    )
    parser.add_argument(
        "--no-list-cache", action="store_true", help="every request scores (no list cache)"
    )
    args = parser.parse_args()
    secret = secrets.token_urlsafe(32)
    with temporary_database(args.backend) as url, tempfile.TemporaryDirectory() as models:
        env = {
            "JWT_SECRET": secret,
            "MODEL_DIR": models,
            "TRAINER": "external",
            "MODEL_TTL_SECONDS": "5",
            "RATE_LIMIT_POINTS_PER_MINUTE": "0",
        }
        if args.no_list_cache:
            env["RECOMMENDATION_CACHE_TTL_SECONDS"] = "0"
        run_cli(url, "db", "upgrade", extra_env=env)
        run_cli(url, "import", args.dataset, extra_env=env)
        run_cli(url, "train", extra_env=env)
        tokens = customer_tokens(url, args.customers, secret)
        with server_process(url, extra_env=env) as running:
            pid = running.process.pid
            trainer = (
                None
                if args.no_trainer
                else subprocess.Popen(
                    [*CLI, "trainer"],
                    cwd=ROOT,
                    env={**os.environ, "DATABASE_URL": url, **env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            samples: list[float] = []
            at: list[float] = []  # when each sample ended (monotonic seconds)
            swapped_at: list[float] = []  # when a new version was first seen (every 0.5 s)
            peak = 0.0
            with httpx.Client(base_url=running.base, timeout=30) as client:
                for token in tokens:  # warm-up: every customer once
                    client.post(
                        "/graphql",
                        json={"query": QUERY},
                        headers={"authorization": f"Bearer {token}"},
                    )
                first_version = metric(client.get("/metrics").text, "recommender_model_version")
                version = first_version
                deadline = time.monotonic() + args.seconds
                next_check = 0.0
                i = 0
                while time.monotonic() < deadline:
                    headers = {"authorization": f"Bearer {tokens[i % len(tokens)]}"}
                    started = time.perf_counter()
                    response = client.post("/graphql", json={"query": QUERY}, headers=headers)
                    samples.append(time.perf_counter() - started)
                    at.append(time.monotonic())
                    assert len(response.json()["data"]["recommendations"]) == 10, response.text
                    i += 1
                    if time.monotonic() >= next_check:
                        peak = max(peak, rss_mb(pid))
                        seen = metric(client.get("/metrics").text, "recommender_model_version")
                        if seen != version:
                            version = seen
                            swapped_at.append(time.monotonic())
                        next_check = time.monotonic() + 0.5
                metrics = client.get("/metrics").text
                resident = rss_mb(pid)
            trainer_log = ""
            if trainer is not None:
                trainer.send_signal(signal.SIGTERM)
                _, trainer_log = trainer.communicate(timeout=120)
    near = [
        sample
        for sample, ended in zip(samples, at, strict=True)
        if any(-1.0 <= ended - swap <= 1.0 for swap in swapped_at)
    ]
    lag_total = metric(metrics, "recommender_event_loop_lag_seconds_count")
    lag_within_50ms = metric(metrics, 'recommender_event_loop_lag_seconds_bucket{le="0.05"}')
    print(
        json.dumps(
            {
                "bench": "model_swap",
                "backend": args.backend,
                "trainer": not args.no_trainer,
                "list_cache": not args.no_list_cache,
                "seconds": args.seconds,
                "requests": len(samples),
                "p50_ms": round(percentile(samples, 50) * 1000, 2),
                "p99_ms": round(percentile(samples, 99) * 1000, 2),
                "max_ms": round(max(samples) * 1000, 2),
                "max_ms_within_1s_of_a_swap": round(max(near, default=0.0) * 1000, 2),
                "swaps": int(metric(metrics, "recommender_model_version") - first_version),
                "trainer_rounds": trainer_log.count('"trainer round published"'),
                "load_seconds_mean": round(
                    metric(metrics, "recommender_model_load_seconds_sum")
                    / max(1.0, metric(metrics, "recommender_model_load_seconds_count")),
                    4,
                ),
                "api_rss_mb": round(resident, 1),
                "api_rss_peak_mb": round(max(peak, resident), 1),
                "event_loop_lag_over_50ms": int(lag_total - lag_within_50ms),
            }
        )
    )
    print("done", file=sys.stderr)


if __name__ == "__main__":
    main()
