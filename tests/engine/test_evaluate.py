"""Offline protocol: split, relevance, metrics by hand; the real data set end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine.config import CONFIGS
from engine.data import Catalog, Events, load_dataset
from engine.evaluate import evaluate, main, split_relevance
from engine.recommender import Recommender
from tests.engine.helpers import catalog, events

DATA = Path(
    os.environ.get(
        "ONLINE_RETAIL_DIR",
        Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "online-retail",
    )
)
CUTOFF = np.datetime64("2011-10-01")


def tiny() -> tuple[Catalog, Events]:
    cat = catalog([(f"P{i}", f"ITEM {i}", "") for i in range(1, 6)])
    train = [("u1", "P1"), ("u1", "P2"), ("u2", "P1"), ("u2", "P3"), ("u3", "P1"), ("u4", "P2")]
    test = [("u1", "P3"), ("u1", "P1"), ("u2", "P1"), ("u3", "P4"), ("u3", "P5"), ("u5", "P1")]
    rows = [(u, p, "purchase", 10) for u, p in train] + [(u, p, "purchase", 20) for u, p in test]
    return cat, events(rows)


def test_split_relevance_counts_only_novel_products_of_train_users() -> None:
    _, ev = tiny()
    train, users, relevant = split_relevance(ev, np.datetime64("2024-01-15"))
    assert len(train) == 6
    assert users == ["u1", "u3"]
    assert relevant == [{"P3"}, {"P4", "P5"}]


def test_evaluate_popularity_by_hand() -> None:
    cat, ev = tiny()
    out = evaluate(
        cat,
        ev,
        np.datetime64("2024-01-15"),
        k=2,
        configs={"popularity": CONFIGS["popularity"]},
        progress=None,
    )
    assert (out["users"], out["items"], out["train_interactions"], out["eval_users"]) == (
        4,
        5,
        6,
        2,
    )
    assert out["cutoff"] == "2024-01-15" and out["k"] == 2
    got = out["models"]["popularity"]
    # u1 gets [P3, P4] (P1, P2 own): hit at rank 1; u3 gets [P2, P3]: no hit.
    assert got["precision"] == pytest.approx(0.25)
    assert got["recall"] == pytest.approx(0.5)
    assert got["ndcg"] == pytest.approx(0.5)
    assert got["hit_rate"] == pytest.approx(0.5)
    assert got["map"] == pytest.approx(0.5)
    assert got["coverage"] == pytest.approx(3 / 5)
    assert got["ms_per_user"] >= 0


needs_data = pytest.mark.skipif(not (DATA / "products.csv").exists(), reason=f"no data at {DATA}")


@pytest.fixture(scope="module")
def retail() -> tuple[Catalog, Events]:
    return load_dataset(DATA)


@needs_data
def test_online_retail_default_beats_target(retail: tuple[Catalog, Events]) -> None:
    cat, ev = retail
    out = evaluate(cat, ev, CUTOFF, configs={"default": CONFIGS["default"]}, progress=None)
    assert out["eval_users"] == 1768
    assert out["models"]["default"]["ndcg"] >= 0.13
    assert out["models"]["default"]["train_seconds"] > 0  # timed by bench/, never asserted here


@needs_data
def test_online_retail_batch_equals_single(retail: tuple[Catalog, Events]) -> None:
    cat, ev = retail
    train = ev.select(ev.timestamps < np.datetime64("2011-04-01"))
    model = Recommender(CONFIGS["default"]).fit(cat, train)
    users = [*sorted(set(train.user_ids.tolist()))[:150], "unknown-user"]
    for rule in ("purchased", "interacted"):
        batch = model.recommend_batch(users, k=10, exclude=rule)
        single = [[r.product_id for r in model.recommend(u, k=10, exclude=rule)] for u in users]
        assert batch == single


def test_cli_prints_one_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cat, ev = tiny()
    rows = ["id,name,description,category,price,tags"]
    rows += [f"{p},{n},,,1.0," for p, n in zip(cat.product_ids, cat.names, strict=True)]
    (tmp_path / "products.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    lines = ["user_id,product_id,type,timestamp,quantity"]
    lines += [
        f"{u},{p},{t},{s!s},1"
        for u, p, t, s in zip(ev.user_ids, ev.product_ids, ev.types, ev.timestamps, strict=True)
    ]
    (tmp_path / "interactions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert (
        main([str(tmp_path), "--cutoff", "2024-01-15", "--k", "2", "--configs", "popularity"]) == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    data = json.loads(out[0])
    assert data["eval_users"] == 2 and data["models"]["popularity"]["ndcg"] == pytest.approx(0.5)
