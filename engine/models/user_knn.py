"""User-based cosine CF (the brief's model): neighbours among customers sharing a product."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.models import register
from engine.models.base import Profiles, ScoringModel
from engine.training import TrainingState


@register("user_knn")
@dataclass(frozen=True)
class UserKnnModel(ScoringModel):
    """Cosine over interaction strengths R (n x m), shrunk by overlap size.

    binary_t (m x n): R's pattern transposed; norms (n,): row norms of R.
    """

    strengths: sp.csr_matrix
    binary_t: sp.csr_matrix
    norms: np.ndarray
    neighbours: int
    shrink: float

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> UserKnnModel:
        strengths = state.strengths
        binary = strengths.copy()
        binary.data = np.ones_like(binary.data)
        norms = np.sqrt(np.asarray(strengths.multiply(strengths).sum(1)).ravel())
        return cls(
            strengths,
            binary.T.tocsr(),
            norms,
            config.user_neighbours,
            config.user_overlap_shrink,
        )

    @property
    def algorithm(self) -> str:
        return "user-kNN"

    def cells_per_customer(self, n: int, m: int) -> int:
        return max(n, m)

    def problems(self, n: int, m: int) -> list[str]:
        if self.strengths.shape != (n, m) or self.binary_t.shape != (m, n):
            return [f"user-kNN strengths are {self.strengths.shape}, not {(n, m)}"]
        if self.norms.shape != (n,):
            return [f"user-kNN norms have shape {self.norms.shape}, not ({n},)"]
        return []

    def score(self, batch: Profiles) -> np.ndarray:
        """(b x m): sum over the top neighbours v of sim(u, v) * R[v] / sum sim.

        sim = cosine(u, v) * overlap / (overlap + shrink), over users sharing a product only;
        the customer's own row (batch.rows) is never its own neighbour.
        """
        profiles, user_rows = batch.strengths, batch.rows
        b = profiles.shape[0]
        dots = (profiles @ self.strengths.T).tocsr()
        dots.sort_indices()
        binary = profiles.copy()
        binary.data = np.ones_like(binary.data)
        overlap = (binary @ self.binary_t).tocsr()
        overlap.sort_indices()
        if overlap.nnz != dots.nnz or not np.array_equal(overlap.indices, dots.indices):
            both = (dots > 0).multiply(overlap > 0).tocsr()
            dots = dots.multiply(both).tocsr()
            overlap = overlap.multiply(both).tocsr()
            dots.sort_indices()
            overlap.sort_indices()
        pn = np.sqrt(np.asarray(profiles.multiply(profiles).sum(1)).ravel())
        rows_of = np.repeat(np.arange(b), np.diff(dots.indptr))
        sims = dots.data / (pn[rows_of] * self.norms[dots.indices] + 1e-12)
        if self.shrink:
            sims *= overlap.data / (overlap.data + self.shrink)
        sims[dots.indices == user_rows[rows_of]] = 0.0
        top_rows, top_cols, top_vals = [], [], []
        for r in range(b):
            lo, hi = dots.indptr[r], dots.indptr[r + 1]
            vals, cols = sims[lo:hi], dots.indices[lo:hi]
            if hi - lo > self.neighbours:
                keep = np.argpartition(-vals, self.neighbours - 1)[: self.neighbours]
                vals, cols = vals[keep], cols[keep]
            good = vals > 0
            top_rows.append(np.full(int(good.sum()), r))
            top_cols.append(cols[good])
            top_vals.append(vals[good])
        top = sp.csr_matrix(
            (np.concatenate(top_vals), (np.concatenate(top_rows), np.concatenate(top_cols))),
            shape=(b, self.strengths.shape[0]),
        )
        denom = np.asarray(top.sum(1)).ravel() + 1e-12
        return (top @ self.strengths).toarray() / denom[:, None]
