"""The large-scale paths of the engine: chunked user-kNN, ALS and EASE + kNN tail for large
catalogs, content's sparse path, the category picker under ties; each against a plain
reference and through artifacts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import engine.models.user_knn as user_knn_module
from engine import artifacts
from engine.config import CONFIGS
from engine.data import Events
from engine.models import Profiles
from engine.models.als import AlsModel
from engine.models.content import ContentModel, LowRankContentModel, content_model
from engine.models.ease_knn import EaseKnnModel
from engine.models.user_knn import user_knn
from engine.recommender import Recommender
from engine.rules import Picker
from tests.engine.helpers import catalog, shop_events


def random_strengths(n: int, m: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((n, m)) * (rng.random((n, m)) < 0.15) * 5
    return sp.csr_matrix(dense)


def user_knn_reference(r: np.ndarray, rows: list[int], k: int, shrink: float) -> np.ndarray:
    """The brief's formula with a dense customer x customer block."""
    binary = (r > 0).astype(float)
    norms = np.linalg.norm(r, axis=1)
    out = []
    for u in rows:
        sims = r @ r[u] / (norms * norms[u] + 1e-12)
        overlap = binary @ binary[u]
        sims = sims * overlap / (overlap + shrink)
        sims[u] = 0.0
        top = np.argsort(-sims, kind="stable")[:k]
        top = top[sims[top] > 0]
        out.append(sims[top] @ r[top] / (sims[top].sum() + 1e-12))
    return np.array(out)


@pytest.mark.parametrize("cells", [1, 50, 4_000_000])
def test_user_knn_in_chunks_matches_the_dense_formula(
    cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(user_knn_module, "_CELLS", cells)
    r = random_strengths(60, 30)
    rows = [0, 5, 17, 59]
    model = user_knn(r, neighbours=7, shrink=2.0)
    got = model.score(Profiles(r[rows], r[rows], np.array(rows)))
    assert got.dtype == np.float32
    assert np.allclose(got, user_knn_reference(r.toarray(), rows, 7, 2.0), atol=1e-5)


def test_user_knn_keeps_only_k_neighbours_per_customer() -> None:
    r = random_strengths(40, 20, seed=1)
    model = user_knn(r, neighbours=3, shrink=0.0)
    top = model.neighbours_of(sp.csr_matrix(r[:10], dtype=np.float32), np.arange(10))
    assert top.shape == (10, 40)
    assert np.diff(top.indptr).max() <= 3
    assert all(i not in top[i].indices for i in range(10))  # never its own neighbour


def test_select_many_equals_select_under_ties() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 4, 400)
    picker = Picker(codes, 2)
    scores = np.round(rng.random((30, 400)), 1).astype(np.float32)  # many ties
    scores[5, :] = 0.0
    scores[6, 390:] = 1.0
    scores[7, rng.random(400) < 0.5] = -np.inf
    many = picker.select_many(scores, 10)
    for row, picked in zip(scores, many, strict=True):
        assert picked.tolist() == picker.select(row, 10).tolist()


def test_select_many_equals_select_when_the_cap_exhausts_the_pool() -> None:
    """Rows whose best products crowd into a few categories need pools beyond the first one
    (retried together, twice here: 250 -> 1,000 -> 4,000 of 5,000 products)."""
    rng = np.random.default_rng(4)
    m = 5000
    codes = np.where(np.arange(m) < 3000, np.arange(m) % 3, 3 + np.arange(m) % 500)
    picker = Picker(codes, 2)
    scores = rng.random((12, m)).astype(np.float32)
    scores[:8, :3000] += 1.0  # three categories hold the top 3,000 products
    scores[4:8, 3000:4500] = np.float32(0.0)
    scores[2, 4000:] = -np.inf
    many = picker.select_many(scores, 10)
    for row, picked in zip(scores, many, strict=True):
        assert len(picked) == 10 and picked.tolist() == picker.select(row, 10).tolist()


def test_content_sparse_and_dense_paths_agree() -> None:
    cat = catalog()
    model = content_model(cat, 1000)
    m = len(cat)
    one = sp.csr_matrix(([1.0, 0.4], ([0, 0], [0, 4])), shape=(1, m))
    many = sp.csr_matrix(np.random.default_rng(0).random((40, m)) < 0.5, dtype=np.float64)
    for p in (one, many):
        rows = np.full(p.shape[0], -1)
        got = model.score(Profiles(p, p, rows))
        u = (p @ model.tfidf).toarray()
        want = (model.tfidf @ u.T).T
        want[np.nonzero(p)] -= p.data * model.self_similarity[p.indices]
        assert np.allclose(got, np.maximum(want, 0), atol=1e-5)


def test_low_rank_content_approximates_the_cosine() -> None:
    cat = catalog()
    config = dataclasses.replace(CONFIGS["default"], content_exact_max_items=0, content_rank=13)
    state_model = Recommender(config).fit(cat, shop_events()).scorer.content
    assert isinstance(state_model, LowRankContentModel)
    exact = content_model(cat, 1000)
    cos = (exact.tfidf @ exact.tfidf.T).toarray()
    approx = state_model.vectors @ state_model.vectors.T
    assert np.abs(approx - cos).max() < 1e-3  # full rank: the same cosine


LARGE = dataclasses.replace(CONFIGS["default"], name="large", ease_max_items=4, ease_min_users=1)


def test_auto_switches_to_als_above_the_ease_limit_and_folds_in_linearly() -> None:
    model = Recommender(LARGE).fit(catalog(), shop_events())
    cf = model.scorer.cf
    assert isinstance(cf, AlsModel) and model.info.algorithm.startswith("ALS")
    assert (
        Recommender(CONFIGS["default"])
        .fit(catalog(), shop_events())
        .info.algorithm.startswith("EASE")
    )
    st = model.scorer.state
    rows = np.arange(len(st.user_ids))
    p = st.strengths.copy()
    p.data = np.minimum(p.data / 5.0, 1.0)
    together = cf.score(Profiles(p, st.strengths, rows))
    alone = np.vstack([cf.score(Profiles(p[[i]], st.strengths[[i]], rows[[i]])) for i in rows])
    assert np.allclose(together, alone, atol=1e-5)
    u = 0
    items = p[u].indices
    parts = cf.contributions(items, p[u].data, np.arange(p.shape[1]))
    assert np.allclose(parts.sum(0), together[u], atol=1e-4)


@pytest.mark.parametrize("cf", ["auto", "ease_knn"])
def test_large_catalog_models_survive_artifacts(tmp_path: Path, cf: str) -> None:
    config = dataclasses.replace(LARGE, cf=cf)
    model = Recommender(config).fit(catalog(), shop_events())
    expected = AlsModel if cf == "auto" else EaseKnnModel
    assert isinstance(model.scorer.cf, expected)
    artifacts.save(model, tmp_path / "v")
    again = artifacts.load(tmp_path / "v").recommender
    users = ["m0", "m1", "c0", "b1", "nobody"]
    assert again.recommend_batch(users, 5) == model.recommend_batch(users, 5)
    extra = Events.from_records([("m0", "B1", "purchase", "2024-01-20T00:00:00")])
    assert again.recommend("m0", 5, extra) == model.recommend("m0", 5, extra)
    assert again.similar("A1", 4) == model.similar("A1", 4)


def test_ease_knn_is_ease_on_the_head_and_knn_elsewhere() -> None:
    model = Recommender(dataclasses.replace(LARGE, cf="ease_knn")).fit(catalog(), shop_events())
    cf = model.scorer.cf
    assert isinstance(cf, EaseKnnModel)
    head = set(cf.head.active.tolist())
    assert len(head) == 4
    w = cf.tail.weights.tocoo()
    pairs = zip(cf.tail.active[w.row].tolist(), cf.tail.active[w.col].tolist(), strict=True)
    assert not any(a in head and b in head for a, b in pairs)
    assert cf.scale > 0


def test_exact_content_is_the_default_at_any_size() -> None:
    model = Recommender(CONFIGS["default"]).fit(catalog(), shop_events())
    assert isinstance(model.scorer.content, ContentModel)


def test_the_category_cap_keeps_the_first_items_of_each_category() -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(-1, 3, 50)
    picker = Picker(codes, 2)
    order = rng.permutation(50)
    counts: dict[int, int] = {}
    want = []
    for i in order.tolist():
        c = int(codes[i])
        if c >= 0 and counts.get(c, 0) >= 2:
            continue
        counts[c] = counts.get(c, 0) + 1
        want.append(i)
    assert picker._greedy(order, 10).tolist() == want[:10]
    assert picker._greedy(order[:0], 10).tolist() == []


def test_events_load_in_chunks_as_in_one_piece() -> None:
    from app.settings import PROJECT_ROOT
    from engine.data import load_dataset, load_events

    _, whole = load_dataset(PROJECT_ROOT / "app" / "sample_data")
    path = next((PROJECT_ROOT / "app" / "sample_data").glob("interactions.csv*"))
    chunked = load_events(path, chunk=7)
    assert len(whole) > 7
    for field in dataclasses.fields(Events):
        assert getattr(chunked, field.name).tolist() == getattr(whole, field.name).tolist()
