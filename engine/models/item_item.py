"""Item-to-item models: scores are the profile times a product x product weight matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from engine.models.base import Profiles, ReasonKind, ScoringModel


def frozen(a: np.ndarray) -> np.ndarray:
    """`a`, made read-only."""
    a.setflags(write=False)
    return a


def positions(active: np.ndarray, m: int) -> np.ndarray:
    """(m,) row of each product in a matrix over `active` products, -1 for the others."""
    pos = np.full(m, -1, dtype=np.int64)
    pos[active] = np.arange(len(active))
    return frozen(pos)


@dataclass(frozen=True)
class ItemItemModel(ScoringModel):
    """Item-to-item weights W (a x a) over the `active` product indices (a,) of an m-catalog.

    position (m,) maps a product to its row in W or -1. Scores are P[:, active] @ W; W is dense
    (EASE) or csr (kNN); its diagonal is zero.
    """

    reason_kind: ClassVar[ReasonKind] = "SIMILAR_TO_PURCHASED"

    active: np.ndarray
    position: np.ndarray
    weights: np.ndarray | sp.csr_matrix
    m: int

    def _sub(self, profiles: sp.csr_matrix) -> sp.csr_matrix:
        pos = self.position[profiles.indices]
        keep = pos >= 0
        rows = np.repeat(np.arange(profiles.shape[0]), np.diff(profiles.indptr))
        return sp.csr_matrix(
            (profiles.data[keep].astype(self.weights.dtype), (rows[keep], pos[keep])),
            shape=(profiles.shape[0], len(self.active)),
        )

    def score(self, batch: Profiles) -> np.ndarray:
        """(b x m) float32 scores; columns outside `active` are 0."""
        profiles = batch.profiles
        sub = self._sub(profiles)
        part = (
            sub @ self.weights
            if isinstance(self.weights, np.ndarray)
            else (sub @ self.weights).toarray()
        )
        if len(self.active) == self.m:
            return part
        out = np.zeros((profiles.shape[0], self.m), dtype=part.dtype)
        out[:, self.active] = part
        return out

    @property
    def algorithm(self) -> str:
        return "item-item"

    def problems(self, n: int, m: int) -> list[str]:
        a = len(self.active)
        if self.m != m or self.position.shape != (m,) or self.weights.shape != (a, a):
            return [f"item-item weights {self.weights.shape} do not fit {a} of {m} products"]
        if a and (self.active.min() < 0 or self.active.max() >= m):
            return ["item-item active products are out of range"]
        return []

    def contributions(
        self, items: np.ndarray, values: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """(p x t): values[j] * W[items[j], targets[c]] = item j's part of target c's score."""
        out = np.zeros((len(items), len(targets)))
        pi, pt = self.position[items], self.position[targets]
        okr, okc = np.flatnonzero(pi >= 0), np.flatnonzero(pt >= 0)
        if len(okr) == 0 or len(okc) == 0:
            return out
        if isinstance(self.weights, np.ndarray):
            block = self.weights[np.ix_(pi[okr], pt[okc])]
        else:
            block = self.weights[pi[okr]][:, pt[okc]].toarray()
        out[np.ix_(okr, okc)] = block * values[okr, None]
        return out

    def similar(self, item: int) -> np.ndarray:
        """(m,) similarity of every product to `item` (the item's W column, symmetrised for kNN)."""
        out = np.zeros(self.m)
        pos = self.position[item]
        if pos < 0:
            return out
        if isinstance(self.weights, np.ndarray):
            out[self.active] = self.weights[:, pos]
        else:
            col = self.weights[:, [pos]].toarray().ravel()
            row = self.weights[pos].toarray().ravel()
            out[self.active] = np.maximum(col, row)
        return out
