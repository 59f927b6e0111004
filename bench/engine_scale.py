"""Scale benchmark: a synthetic shop (default 100k customers x 20k products x 2M events) written
in the import format to a temp dir (by a child process, so peak RSS is the engine's alone), then
load + evaluate (fit + score all evaluated customers).

Prints one JSON line: wall seconds per phase, peak RSS MB, metrics.  --small: 10k x 4k x 200k.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from engine import CONFIGS, load_dataset  # noqa: E402
from engine.evaluate import evaluate  # noqa: E402


def main() -> int:
    """Run the benchmark and print its JSON line."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--small", action="store_true")
    p.add_argument("--config", default="default")
    p.add_argument("--cutoff", default="2023-11-01")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    users, products, events = (10_000, 4_000, 200_000) if a.small else (100_000, 20_000, 2_000_000)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="engine-scale-") as tmp:
        cmd = [sys.executable, str(ROOT / "bench" / "synthetic.py"), tmp, "--users", str(users)]
        cmd += ["--products", str(products), "--events", str(events), "--seed", str(a.seed)]
        subprocess.run(cmd, check=True)
        gen_s = time.perf_counter() - t0
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t1 = time.perf_counter()
        catalog, ev = load_dataset(tmp)
        load_s = time.perf_counter() - t1
        result = evaluate(
            catalog,
            ev,
            np.datetime64(a.cutoff),
            10,
            {a.config: CONFIGS[a.config]},
            progress=sys.stderr,
            dataset="synthetic",
        )
    total_s = time.perf_counter() - t1
    m = result["models"][a.config]
    out = {
        "bench": "engine_scale",
        "small": a.small,
        "config": a.config,
        "users": result["users"],
        "items": result["items"],
        "train_interactions": result["train_interactions"],
        "eval_users": result["eval_users"],
        "generate_seconds": round(gen_s, 1),
        "load_seconds": round(load_s, 1),
        "train_seconds": m["train_seconds"],
        "score_seconds": round(m["ms_per_user"] * result["eval_users"] / 1000, 1),
        "evaluate_wall_seconds": round(total_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_load_mb": round(rss_before, 1),
        **{key: m[key] for key in ("ndcg", "precision", "recall", "hit_rate", "map", "coverage")},
        "ms_per_user": m["ms_per_user"],
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
