"""Similarity components against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.models import Profiles
from engine.models.content import content_model
from engine.models.ease import ease
from engine.models.item_knn import item_knn
from engine.models.trend import decayed_popularity, newness
from engine.models.user_knn import user_knn
from tests.engine.helpers import catalog

X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=float))


def batch(profiles: sp.csr_matrix, rows: list[int] | None = None) -> Profiles:
    """Profiles of customers unknown to the model (rows -1) unless `rows` says otherwise."""
    b = profiles.shape[0]
    return Profiles(profiles, profiles, np.array(rows if rows is not None else [-1] * b))


def test_item_knn_is_cosine_without_shrink() -> None:
    model = item_knn(X, neighbours=5, shrink=0.0).with_popularity_exponent(0.0)
    w = model.weights.toarray()
    dense = X.toarray()
    norms = np.linalg.norm(dense, axis=0)
    expected = dense.T @ dense / np.outer(norms, norms)
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(w, expected)
    assert w[0, 1] == pytest.approx(2 / 3)


def test_item_knn_keeps_top_neighbours_and_shrinks() -> None:
    model = item_knn(X, neighbours=1, shrink=1.0).with_popularity_exponent(0.0)
    w = model.weights.toarray()
    assert (w > 0).sum(axis=1).tolist() == [1, 1, 1]
    assert w.max() == pytest.approx(2 / (3 + 1))


def test_item_knn_popularity_penalty_prefers_rare_neighbours() -> None:
    rows = [[1, 1, 1], [1, 1, 0], [1, 1, 0], [1, 1, 0]] + [[0, 1, 0]] * 4 + [[0, 0, 1]]
    x = sp.csr_matrix(np.array(rows, dtype=float))
    pool = item_knn(x, neighbours=1, shrink=0.0)
    dense = x.toarray()
    norms = np.linalg.norm(dense, axis=0)
    cos = dense.T @ dense / np.outer(norms, norms)
    plain = pool.with_popularity_exponent(0.0).weights.toarray()
    assert plain[0].argmax() == 1 and plain[0, 1] == pytest.approx(cos[0, 1])
    assert cos[0, 1] == pytest.approx(4 / (2 * np.sqrt(8)))
    penalised = pool.with_popularity_exponent(1.0).weights.toarray()
    degree = dense.sum(axis=0)
    assert penalised[0].argmax() == 2
    assert penalised[0, 2] == pytest.approx(cos[0, 2] / degree[2])


def test_ease_matches_closed_form() -> None:
    model = ease(X, lam=0.5, lam_per_degree=1.0)
    assert model.lam == 0.5
    assert model.algorithm.startswith("EASE (λ=")
    g = X.toarray().T @ X.toarray() + 0.5 * np.eye(3)
    p = np.linalg.inv(g)
    expected = np.eye(3) - p / np.diag(p)
    assert np.allclose(model.weights, expected)
    assert np.allclose(np.diag(model.weights), 0.0)
    scores = model.score(batch(sp.csr_matrix(np.array([[1.0, 0.0, 0.0]]))))
    assert np.allclose(scores[0], expected[0])


def test_ease_lambda_scales_with_item_degree() -> None:
    lam = ease(X, lam=None, lam_per_degree=2.0).lam
    assert lam == pytest.approx(2.0 * np.mean(X.toarray().sum(axis=0)))


def test_ease_ignores_products_without_events() -> None:
    x = sp.csr_matrix(np.array([[1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]], dtype=float))
    model = ease(x, lam=1.0, lam_per_degree=1.0)
    assert model.active.tolist() == [0, 2]
    scores = model.score(batch(sp.csr_matrix(np.array([[1.0, 0, 0, 0]]))))
    assert scores[0, 1] == 0.0 and scores[0, 3] == 0.0 and scores[0, 2] > 0


def test_content_similarity_uses_shared_words() -> None:
    cat = catalog()
    model = content_model(cat, 1000)
    ids = cat.product_ids.tolist()
    sim = model.similar(ids.index("A1"))
    assert sim[ids.index("A1")] == pytest.approx(1.0)
    assert sim[ids.index("A2")] > 0.2
    assert sim[ids.index("N1")] > 0.2
    assert sim[ids.index("C1")] == pytest.approx(0.0)
    profile = sp.csr_matrix(([1.0], ([0], [ids.index("A1")])), shape=(1, len(ids)))
    scores = model.score(batch(profile))[0]
    assert scores[ids.index("A1")] == pytest.approx(0.0, abs=1e-12)
    assert scores[ids.index("A2")] == pytest.approx(sim[ids.index("A2")])


def test_popularity_decay_and_newness() -> None:
    items = np.array([0, 0, 1])
    pop = decayed_popularity(items, np.ones(3), np.array([0.0, 0.0, 0.0]), 7.0, 3)
    assert pop[0] == pytest.approx(1.0) and 0 < pop[1] < 1 and pop[2] == 0
    old = decayed_popularity(items, np.ones(3), np.array([70.0, 70.0, 0.0]), 7.0, 3)
    assert old[1] == pytest.approx(1.0) and old[0] < old[1]
    new = newness(np.array([0.0, 30.0, np.inf]), 30.0)
    assert new.tolist() == pytest.approx([1.0, 0.5, 0.0])


def test_user_knn_cosine_weighted_by_overlap_confidence() -> None:
    r = sp.csr_matrix(np.array([[5.0, 5.0, 0.0], [5.0, 0.0, 5.0], [5.0, 5.0, 5.0]]))
    model = user_knn(r, neighbours=2, shrink=1.0)
    sim1 = 25 / (np.sqrt(50) * np.sqrt(50)) * (1 / 2)
    sim2 = 50 / (np.sqrt(50) * np.sqrt(75)) * (2 / 3)
    expected = (sim1 * r[1].toarray() + sim2 * r[2].toarray()) / (sim1 + sim2)
    got = model.score(batch(r[0], [0]))
    assert np.allclose(got, expected)
    top1 = user_knn(r, neighbours=1, shrink=1.0)
    assert np.allclose(top1.score(batch(r[0], [0])), r[2].toarray())
    assert np.allclose(top1.score(batch(r[0])), r[0].toarray())
