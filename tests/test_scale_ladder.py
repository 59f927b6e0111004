"""The scale ladder's smallest rung runs end to end: one JSON line with every measurement."""

import json
import subprocess
import sys
from pathlib import Path

from bench._support import ROOT


def test_the_smoke_rung_reports_the_cost_curve_fields(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "bench" / "scale_ladder.py"), "--rungs", "smoke"]
    command += ["--data-dir", str(tmp_path), "--serve", "50", "--score", "300"]
    out = subprocess.run(
        command,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=600,
    ).stdout.strip()
    lines = out.splitlines()
    assert len(lines) == 1
    rung = json.loads(lines[0])
    assert rung["rung"] == "smoke" and rung["events"] == 40_000
    assert rung["algorithm"].startswith("EASE")  # 800 products: under the dense limit
    for key in ("load_seconds", "fit_seconds", "score_seconds", "peak_rss_mb", "model_mb"):
        assert rung[key] > 0, key
    assert rung["serve_customers"] == 50
    assert 0 < rung["serve_p50_ms"] <= rung["serve_p99_ms"] <= rung["serve_max_ms"]
    assert "loadavg_before" in rung and rung["cpus"] >= 1
    assert (tmp_path / "shop-smoke-seed0" / "interactions.csv").exists()
