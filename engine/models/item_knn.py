"""Sparse cosine item-kNN with shrinkage and an optional neighbour popularity penalty."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.models import register
from engine.models.item_item import ItemItemModel, frozen, positions
from engine.training import TrainingState


@dataclass(frozen=True)
class KnnPool:
    """Top-`size` cosine neighbours per active product (csr a x a, diagonal zero) and the number of
    customers of each active product (a,), from which item-kNN weights are selected."""

    pool: sp.csr_matrix
    degree: np.ndarray

    def select(self, neighbours: int, popularity_exponent: float) -> sp.csr_matrix:
        """Per product the top `neighbours` of sim / degree(neighbour)^exponent (RP3beta-like
        popularity penalty; 0 = plain cosine); weights are the penalised similarities."""
        p = self.pool
        rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
        vals = p.data / self.degree[p.indices] ** np.float32(popularity_exponent)
        order = np.lexsort((p.indices, -vals, rows))
        rank = np.arange(len(order)) - p.indptr[rows[order]]
        keep = order[rank < neighbours]
        return sp.csr_matrix(
            (vals[keep].astype(np.float32), (rows[keep], p.indices[keep])), shape=p.shape
        )


@register("item_knn")
@dataclass(frozen=True)
class ItemKnnModel(ItemItemModel):
    """Item-kNN weights selected from `pool` (None once trimmed for serving)."""

    tunes_popularity_exponent: ClassVar[bool] = True

    pool: KnnPool | None
    neighbours: int
    popularity_exponent: float

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> ItemKnnModel:
        pool = item_knn(state.gram_input(), config.knn_neighbours, config.knn_shrink)
        return pool.with_popularity_exponent(config.blend.cf_popularity_exponent)

    @property
    def algorithm(self) -> str:
        return "item-kNN"

    def with_popularity_exponent(self, exponent: float) -> ItemKnnModel:
        if self.pool is None:
            raise ValueError("a model trimmed for serving cannot select other neighbours")
        weights = self.pool.select(self.neighbours, exponent)
        return replace(self, weights=weights, popularity_exponent=exponent)

    def for_serving(self) -> ItemKnnModel:
        return replace(self, pool=None)


def item_knn(
    gram_input: sp.csr_matrix, neighbours: int, shrink: float, cells: int = 20_000_000
) -> ItemKnnModel:
    """Cosine item-kNN with shrinkage keeping the top 2 * `neighbours` per product (memory
    O(a*k)); weights are unset until with_popularity_exponent selects the top `neighbours`.

    Similarities are computed in blocks of about `cells` float32 entries.
    """
    m = gram_input.shape[1]
    active = np.flatnonzero(np.diff(gram_input.tocsc().indptr) > 0)
    chunk = int(np.clip(cells // max(len(active), 1), 32, 1024))
    x = gram_input[:, active].tocsc().astype(np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(0)).ravel())
    degree = np.diff(x.indptr).astype(np.float32)
    xt = x.T.tocsr()
    xc = x.tocsc()
    rows, cols, vals = [], [], []
    a = len(active)
    for start in range(0, a, chunk):
        stop = min(a, start + chunk)
        dots = (xt[start:stop] @ xc).toarray()
        dots /= norms[start:stop, None] * norms[None, :] + shrink
        dots[np.arange(stop - start), np.arange(start, stop)] = 0.0
        r, c, v = _top_k_sparse(dots, 2 * neighbours, start)
        rows.append(r)
        cols.append(c)
        vals.append(v)
    pool = sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(a, a),
    )
    pool.sort_indices()
    return ItemKnnModel(
        frozen(active),
        positions(active, m),
        sp.csr_matrix((a, a), dtype=np.float32),
        m,
        KnnPool(pool, frozen(degree)),
        neighbours,
        0.0,
    )


def _top_k_sparse(
    dense: np.ndarray, k: int, row_offset: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, col, value triplets of the k largest positive entries of every row of `dense`."""
    k = min(k, dense.shape[1])
    idx = np.argpartition(-dense, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(dense, idx, 1)
    rows = np.repeat(np.arange(dense.shape[0]) + row_offset, k)
    keep = vals.ravel() > 0
    return rows[keep], idx.ravel()[keep], vals.ravel()[keep]
