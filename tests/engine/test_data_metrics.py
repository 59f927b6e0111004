"""Loader and metric definitions."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_dataset, parse_timestamps
from engine.metrics import aggregate, user_metrics

PRODUCTS_CSV = (
    'id,name,description,category,price,tags\nP1,"MUG, RED",,Mugs,2.5,red;ceramic\nP2,BAG,,,1,\n'
)
EVENTS_CSV = (
    "user_id,product_id,type,timestamp,quantity\n"
    "u1,P1,view,2024-01-01T10:00:00,1\n"
    "u1,P2,purchase,2024-01-02T11:30:00,3\n"
)


@pytest.mark.parametrize("gz", [False, True])
def test_load_dataset_reads_the_import_format(tmp_path: Path, gz: bool) -> None:
    (tmp_path / "products.csv").write_text(PRODUCTS_CSV, encoding="utf-8")
    if gz:
        with gzip.open(tmp_path / "interactions.csv.gz", "wt", encoding="utf-8") as fh:
            fh.write(EVENTS_CSV)
    else:
        (tmp_path / "interactions.csv").write_text(EVENTS_CSV, encoding="utf-8")
    cat, ev = load_dataset(tmp_path)
    assert cat.product_ids.tolist() == ["P1", "P2"]
    assert cat.names.tolist() == ["MUG, RED", "BAG"]
    assert cat.categories.tolist() == ["Mugs", ""]
    assert cat.tags.tolist() == ["red;ceramic", ""]
    assert cat.prices.tolist() == [2.5, 1.0]
    assert ev.user_ids.tolist() == ["u1", "u1"]
    assert ev.types.tolist() == ["view", "purchase"]
    assert ev.quantities.tolist() == [1, 3]
    assert ev.timestamps.dtype == np.dtype("datetime64[s]")
    assert ev.timestamps[1] == np.datetime64("2024-01-02T11:30:00")


def test_load_dataset_quantity_optional(tmp_path: Path) -> None:
    (tmp_path / "products.csv").write_text(PRODUCTS_CSV, encoding="utf-8")
    (tmp_path / "interactions.csv").write_text(
        "user_id,product_id,type,timestamp\nu9,P1,click,2024-02-01T00:00:00\n", encoding="utf-8"
    )
    _, ev = load_dataset(tmp_path)
    assert ev.quantities.tolist() == [1]


def test_user_metrics_by_hand() -> None:
    got = user_metrics(["a", "b", "c", "d"], {"b", "d", "x"}, k=4)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert got["precision"] == pytest.approx(2 / 4)
    assert got["recall"] == pytest.approx(2 / 3)
    assert got["ndcg"] == pytest.approx(dcg / idcg)
    assert got["hit_rate"] == 1.0
    assert got["map"] == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_user_metrics_ideal_is_capped_at_k() -> None:
    got = user_metrics(["a", "b"], {"a", "b", "c", "d"}, k=2)
    assert got["ndcg"] == pytest.approx(1.0)
    assert got["map"] == pytest.approx(1.0)
    assert got["recall"] == pytest.approx(0.5)
    miss = user_metrics(["z", "y"], {"a"}, k=2)
    assert miss == {"precision": 0.0, "recall": 0.0, "ndcg": 0.0, "hit_rate": 0.0, "map": 0.0}


def test_aggregate_means_and_coverage() -> None:
    out = aggregate([["a", "b"], ["a", "c"]], [{"a"}, {"z"}], k=2, catalog_size=10)
    assert out["hit_rate"] == pytest.approx(0.5)
    assert out["precision"] == pytest.approx(0.25)
    assert out["ndcg"] == pytest.approx(0.5)
    assert out["coverage"] == pytest.approx(3 / 10)


def test_timestamps_keep_shop_local_time() -> None:
    got = parse_timestamps(
        ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05+02:00", "2024-01-02 03:04:05"]
    )
    assert got.tolist() == [np.datetime64("2024-01-02T03:04:05")] * 3
