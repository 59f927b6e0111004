"""Online Retail engine benchmark: load, fit on the train split, per-customer recommend() latency.

Prints one JSON line: load/train seconds, recommend() latency p50/p99 ms (wall and thread CPU,
with reasons) over up to 1000 customers, batch ms per user, peak RSS MB, the machine's load.
Usage: python bench/engine_online_retail.py [DATA_DIR] [--all]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import CONFIGS, Events, Recommender, load_dataset  # noqa: E402

DEFAULT_DIR = ROOT.parent / "shared" / "datasets" / "online-retail"


def main() -> int:
    """Run the benchmark and print its JSON line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("directory", nargs="?", default=str(DEFAULT_DIR))
    p.add_argument("--cutoff", default="2011-10-01")
    p.add_argument(
        "--all", action="store_true", help="fit on all events instead of the train split"
    )
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--config", default="default")
    a = p.parse_args()
    t0 = time.perf_counter()
    catalog, events = load_dataset(a.directory)
    load_s = time.perf_counter() - t0
    train = events if a.all else events.select(events.timestamps < np.datetime64(a.cutoff))
    t1 = time.perf_counter()
    model = Recommender(CONFIGS[a.config]).fit(catalog, train)
    train_s = time.perf_counter() - t1
    users = np.unique(train.user_ids)
    rng = np.random.default_rng(0)
    sample = rng.choice(users, size=min(a.users, len(users)), replace=False).tolist()
    for u in sample[:20]:
        model.recommend(u)
    lat, cpu = [], []
    for u in sample:
        s, c = time.perf_counter(), time.thread_time()
        model.recommend(u, k=10)
        lat.append(1000 * (time.perf_counter() - s))
        cpu.append(1000 * (time.thread_time() - c))
    extra = Events.from_records(
        [("new-customer", str(catalog.product_ids[0]), "cart_add", a.cutoff)]
    )
    fold = []
    for u in sample[:200]:
        s = time.perf_counter()
        model.recommend(u, k=10, extra_events=extra)
        fold.append(1000 * (time.perf_counter() - s))
    t2 = time.perf_counter()
    model.recommend_batch(sample, k=10)
    batch_ms = 1000 * (time.perf_counter() - t2) / len(sample)
    out = {
        "bench": "engine_online_retail",
        "config": a.config,
        "events": len(train),
        "users": model.info.users,
        "products": model.info.products,
        "load_seconds": round(load_s, 2),
        "train_seconds": round(train_s, 2),
        "recommend_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "recommend_p99_ms": round(float(np.percentile(lat, 99)), 2),
        "recommend_max_ms": round(float(np.max(lat)), 2),
        "recommend_cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        "recommend_cpu_p99_ms": round(float(np.percentile(cpu, 99)), 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "fold_in_p99_ms": round(float(np.percentile(fold, 99)), 2),
        "batch_ms_per_user": round(batch_ms, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "blend": str(model.info.blend),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
