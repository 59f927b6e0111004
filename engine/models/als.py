"""`als`: implicit-feedback ALS (Hu, Koren & Volinsky 2008, via the `implicit` package) for
catalogs too large for EASE's dense inverse.

Training factorises the Gram input G (n x m) with confidence 1 + alpha * G. Serving keeps only
the item factors Y (m x f) and the fold-in projection A = (Y^T Y + mu I)^-1 (f x f): a customer's
factors are x = p Y A for their profile p (so new events and unknown customers fold in without
refitting), and scores are x Y^T. Memory O(m f); one customer costs O(|p| f + m f).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.models import register
from engine.models.base import Profiles, ReasonKind, ScoringModel
from engine.models.item_item import frozen
from engine.training import TrainingState


@register("als")
@dataclass(frozen=True)
class AlsModel(ScoringModel):
    """Item factors (m x f, float32) and the fold-in projection (f x f, float32)."""

    reason_kind: ClassVar[ReasonKind] = "SIMILAR_TO_PURCHASED"  # scores decompose by product

    item_factors: np.ndarray
    projection: np.ndarray
    factors: int
    iterations: int

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> AlsModel:
        return als(
            state.gram_input(),
            config.als_factors,
            config.als_iterations,
            config.als_regularization,
            config.als_alpha,
            config.als_fold_in_lambda,
            config.seed,
        )

    @property
    def algorithm(self) -> str:
        return f"ALS ({self.factors} factors)"

    def cells_per_customer(self, n: int, m: int) -> int:
        return m

    def problems(self, n: int, m: int) -> list[str]:
        f = self.projection.shape[0]
        if self.item_factors.shape != (m, f) or self.projection.shape != (f, f):
            return [f"ALS factors {self.item_factors.shape} do not fit {m} products"]
        return []

    def score(self, batch: Profiles) -> np.ndarray:
        """(b x m) float32: (P Y A) Y^T."""
        p = sp.csr_matrix(batch.profiles, dtype=np.float32)
        x = (p @ self.item_factors) @ self.projection
        if x.shape[0] == 1:  # one customer (serving): a gemv over the C-ordered factors
            return (self.item_factors @ x[0])[None, :]
        return np.ascontiguousarray(x @ self.item_factors.T)

    def contributions(
        self, items: np.ndarray, values: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """(p x t): values[j] * (Y[items[j]] A) . Y[targets[c]] (scores are linear in p)."""
        left = (self.item_factors[items] @ self.projection) * values[:, None]
        return np.asarray(left @ self.item_factors[targets].T, dtype=np.float64)

    def similar(self, item: int) -> np.ndarray:
        """(m,) the item-item operator Y A Y^T in the column of `item`."""
        return np.asarray(self.item_factors @ (self.projection @ self.item_factors[item]))


def als(
    gram_input: sp.csr_matrix,
    factors: int,
    iterations: int,
    regularization: float,
    alpha: float,
    fold_in_lambda: float,
    seed: int = 0,
) -> AlsModel:
    """ALS on gram_input (n x m csr, values in [0, 1]); deterministic for a seed.

    Time O(iterations * (nnz f + (n + m) f^2)), memory O((n + m) f).
    """
    from implicit.cpu.als import AlternatingLeastSquares  # training only
    from threadpoolctl import threadpool_limits

    g = sp.csr_matrix(gram_input, dtype=np.float32)
    m = g.shape[1]
    f = int(min(factors, max(m - 1, 1)))
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; BLAS threads fight it
        model = AlternatingLeastSquares(
            factors=f,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            random_state=seed,
        )
        model.fit(g, show_progress=False)
    y = np.ascontiguousarray(model.item_factors, dtype=np.float32)[:, :f]
    gram = y.T.astype(np.float64) @ y + fold_in_lambda * np.eye(f)
    projection = np.linalg.inv(gram).astype(np.float32)
    return AlsModel(frozen(y), frozen(projection), f, iterations)
