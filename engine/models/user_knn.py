"""User-based cosine CF (the brief's model): neighbours among customers sharing a product.

Scales with customers: the customer x customer similarities of a batch are computed from the
transposed (product-major) matrices kept since fit, a few customers at a time, and only each
customer's top-k neighbours survive (no n x n block, float32 throughout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.models import register
from engine.models.base import Profiles, ScoringModel
from engine.training import TrainingState

_CELLS = 4_000_000
"""Dense scratch cells (float32) of one customer chunk: chunk = _CELLS // n customers."""


@register("user_knn")
@dataclass(frozen=True)
class UserKnnModel(ScoringModel):
    """Cosine over interaction strengths R (n x m, float32 csr), shrunk by overlap size.

    strengths_t (m x n csr): R transposed; binary_t (m x n csr): R's pattern transposed, so a
    batch's dot products and overlaps are csr @ csr without a per-batch transpose; norms (n,):
    row norms of R.
    """

    strengths: sp.csr_matrix
    strengths_t: sp.csr_matrix
    binary_t: sp.csr_matrix
    norms: np.ndarray
    neighbours: int
    shrink: float

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> UserKnnModel:
        return user_knn(state.strengths, config.user_neighbours, config.user_overlap_shrink)

    @property
    def algorithm(self) -> str:
        return "user-kNN"

    def cells_per_customer(self, n: int, m: int) -> int:
        return m

    def problems(self, n: int, m: int) -> list[str]:
        if self.strengths.shape != (n, m) or self.binary_t.shape != (m, n):
            return [f"user-kNN strengths are {self.strengths.shape}, not {(n, m)}"]
        if self.strengths_t.shape != (m, n):
            return [f"user-kNN transposed strengths are {self.strengths_t.shape}, not {(m, n)}"]
        if self.norms.shape != (n,):
            return [f"user-kNN norms have shape {self.norms.shape}, not ({n},)"]
        return []

    def score(self, batch: Profiles) -> np.ndarray:
        """(b x m) float32: sum over the top neighbours v of sim(u, v) * R[v] / sum sim.

        sim = cosine(u, v) * overlap / (overlap + shrink), over users sharing a product only;
        the customer's own row (batch.rows) is never its own neighbour. Customers are handled
        in chunks of _CELLS // n, so scratch memory is O(_CELLS) whatever n is.
        """
        profiles = sp.csr_matrix(batch.strengths, dtype=np.float32)
        b, m = profiles.shape
        out = np.zeros((b, m), dtype=np.float32)
        step = max(1, _CELLS // max(self.norms.shape[0], 1))
        for lo in range(0, b, step):
            hi = min(b, lo + step)
            top = self.neighbours_of(profiles[lo:hi], batch.rows[lo:hi])
            denom = np.asarray(top.sum(1), dtype=np.float32).ravel() + np.float32(1e-12)
            out[lo:hi] = (top @ self.strengths).toarray() / denom[:, None]
        return out

    def neighbours_of(self, profiles: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
        """(c x n) float32 csr: each customer's top `neighbours` similarities (positive only).

        profiles (c x m) float32 csr strengths; rows (c,): the customers' own rows or -1.
        """
        c = profiles.shape[0]
        n = self.norms.shape[0]
        dots = (profiles @ self.strengths_t).tocsr()
        binary = profiles.copy()
        binary.data = np.ones_like(binary.data)
        overlap = (binary @ self.binary_t).tocsr()
        if not (
            np.array_equal(overlap.indptr, dots.indptr)
            and np.array_equal(overlap.indices, dots.indices)
        ):
            dots.sort_indices()
            overlap.sort_indices()
            both = (dots > 0).multiply(overlap > 0).tocsr()
            dots = dots.multiply(both).tocsr()
            overlap = overlap.multiply(both).tocsr()
            dots.sort_indices()
            overlap.sort_indices()
        pn = np.sqrt(np.asarray(profiles.multiply(profiles).sum(1)).ravel())
        rows_of = np.repeat(np.arange(c), np.diff(dots.indptr))
        sims = dots.data / (pn[rows_of] * self.norms[dots.indices] + np.float32(1e-12))
        if self.shrink:
            sims *= overlap.data / (overlap.data + np.float32(self.shrink))
        sims[dots.indices == rows[rows_of]] = 0.0
        return _top_per_row(dots.indptr, dots.indices, sims.astype(np.float32), self.neighbours, n)


def _top_per_row(
    indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, k: int, n: int
) -> sp.csr_matrix:
    """(c x n) csr of the k largest positive values of every row of a csr (indptr, indices,
    values); rows are padded to the longest row (not to n), so scratch is c x max row length."""
    c = len(indptr) - 1
    lens = np.diff(indptr)
    width = int(lens.max()) if c else 0
    rows_of = np.repeat(np.arange(c), lens)
    if width <= k:
        keep = values > 0
        return sp.csr_matrix((values[keep], (rows_of[keep], indices[keep])), shape=(c, n))
    pos = np.arange(len(values)) - indptr[rows_of]
    pad = np.zeros((c, width), dtype=np.float32)
    pad[rows_of, pos] = values
    idx = np.argpartition(-pad, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(pad, idx, 1)
    keep = vals > 0
    at = np.minimum(indptr[:-1, None] + idx, max(len(indices) - 1, 0))
    return sp.csr_matrix(
        (vals[keep], (np.repeat(np.arange(c), k)[keep.ravel()], indices[at[keep]])),
        shape=(c, n),
    )


def user_knn(strengths: sp.csr_matrix, neighbours: int, shrink: float) -> UserKnnModel:
    """The user-kNN model of (n x m) strengths: float32 copies, transposes and row norms."""
    r = sp.csr_matrix(strengths, dtype=np.float32)
    r.sort_indices()
    binary = r.copy()
    binary.data = np.ones_like(binary.data)
    norms = np.sqrt(np.asarray(r.multiply(r).sum(1), dtype=np.float32).ravel())
    return UserKnnModel(
        r, r.T.tocsr(), binary.T.tocsr(), norms.astype(np.float32), neighbours, shrink
    )
