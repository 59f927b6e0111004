"""Scale ladder: the engine's cost curve on seeded synthetic shops (bench/synthetic.py, seed 0).

Each rung runs in its own child process (so peak RSS is that rung's alone) and prints one JSON
line: load (CSV in the import format -> arrays), fit of one config, batch scoring, model size on
disk (engine.artifacts), and per-customer serving latency p50/p99/max of `Recommender.recommend`
on the artifact loaded as an API process loads it (memory-mapped), plus the load average.

    python bench/scale_ladder.py                      # rungs 0.5m and 2m
    python bench/scale_ladder.py --rungs 20m          # the top rung (~20 min; needs ~8 GB)
    python bench/scale_ladder.py --rungs smoke        # seconds; what the test suite runs

Shops are generated once into --data-dir (default bench/.data, reused when present).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNGS: dict[str, tuple[int, int, int]] = {
    "smoke": (2_000, 800, 40_000),
    "0.5m": (25_000, 5_000, 500_000),
    "2m": (100_000, 20_000, 2_000_000),
    "20m": (1_000_000, 100_000, 20_000_000),
}
"""rung -> (customers, products, events)."""


def shop_dir(data_dir: Path, rung: str, seed: int) -> Path:
    """The rung's shop in the import format, generated (in a child process) when absent."""
    users, products, events = RUNGS[rung]
    out = data_dir / f"shop-{rung}-seed{seed}"
    if not (out / "interactions.csv").exists():
        cmd = [sys.executable, str(ROOT / "bench" / "synthetic.py"), str(out)]
        cmd += ["--users", str(users), "--products", str(products), "--events", str(events)]
        subprocess.run([*cmd, "--seed", str(seed)], check=True)
    return out


def _mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def run_rung(directory: Path, rung: str, config: str, serve: int, score: int, seed: int) -> dict:
    """Load, fit, save, load the artifact and serve; the rung's JSON object."""
    from engine import artifacts
    from engine.config import CONFIGS
    from engine.data import load_dataset
    from engine.recommender import Recommender

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    catalog, events = load_dataset(directory)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    model = Recommender(CONFIGS[config]).fit(catalog, events)
    fit_s = time.perf_counter() - t1
    fit_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del events
    users = model.scorer.state.user_ids
    rng = np.random.default_rng(seed)
    scored = rng.choice(users, size=min(score, len(users)), replace=False).tolist()
    t2 = time.perf_counter()
    model.recommend_batch(scored, 10)
    score_s = time.perf_counter() - t2
    with tempfile.TemporaryDirectory(prefix="scale-ladder-") as tmp:
        art = Path(tmp) / "model"
        t3 = time.perf_counter()
        artifacts.save(model, art)
        save_s = time.perf_counter() - t3
        size = _mb(art)
        del model
        t4 = time.perf_counter()
        served = artifacts.load(art).recommender
        artifact_load_s = time.perf_counter() - t4
        sample = rng.choice(users, size=min(serve, len(users)), replace=False).tolist()
        served.recommend(sample[0], 10)  # first touch of the memory-mapped pages
        latencies, cpu = [], []
        with threadpool_limits(1, "blas"):  # as the API process (app.asgi.create_app)
            for user in sample:
                t, c = time.perf_counter(), time.process_time()
                served.recommend(user, 10)
                latencies.append(1000.0 * (time.perf_counter() - t))
                cpu.append(1000.0 * (time.process_time() - c))
    lat = np.array(latencies)
    customers, products, n_events = RUNGS[rung]
    return {
        "bench": "scale_ladder",
        "rung": rung,
        "config": config,
        "customers": customers,
        "products": products,
        "events": n_events,
        "algorithm": served.info.algorithm,
        "load_seconds": round(load_s, 1),
        "fit_seconds": round(fit_s, 1),
        "score_seconds": round(score_s, 3),
        "score_customers": len(scored),
        "score_ms_per_customer": round(1000.0 * score_s / max(len(scored), 1), 3),
        "fit_peak_rss_mb": round(fit_rss, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model_mb": round(size, 1),
        "save_seconds": round(save_s, 1),
        "artifact_load_seconds": round(artifact_load_s, 2),
        "serve_customers": len(lat),
        "serve_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "serve_p99_ms": round(float(np.percentile(lat, 99)), 2),
        "serve_max_ms": round(float(lat.max()), 2),
        "serve_cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        "serve_cpu_p99_ms": round(float(np.percentile(cpu, 99)), 2),
        "loadavg_before": round(load_before, 2),
        "loadavg_after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the chosen rungs, one child process each; print one JSON line per rung."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rungs", default="0.5m,2m", help=f"comma-separated of {sorted(RUNGS)}")
    p.add_argument("--config", default="default")
    p.add_argument("--data-dir", type=Path, default=ROOT / "bench" / ".data")
    p.add_argument("--serve", type=int, default=1000, help="customers timed one at a time")
    p.add_argument("--score", type=int, default=10_000, help="customers scored in batches")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        rung, directory = a.child.split("=", 1)
        print(json.dumps(run_rung(Path(directory), rung, a.config, a.serve, a.score, a.seed)))
        return 0
    rungs = [r.strip() for r in a.rungs.split(",") if r.strip()]
    unknown = [r for r in rungs if r not in RUNGS]
    if unknown:
        p.error(f"unknown rungs {unknown}; known: {sorted(RUNGS)}")
    for rung in rungs:
        directory = shop_dir(a.data_dir, rung, a.seed)
        cmd = [sys.executable, __file__, "--child", f"{rung}={directory}", "--config", a.config]
        cmd += ["--serve", str(a.serve), "--score", str(a.score), "--seed", str(a.seed)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        print(out.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
