"""The one interface of the engine's scoring models, and the batch of customer profiles it reads.

A model is fitted on a TrainingState and maps a batch of b customers to a dense (b x m) block of
non-negative raw scores over the m products; the blend max-normalises each row. Row arithmetic is
row-independent (scipy sparse kernels), so a customer scored alone gets the same scores as in a
batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.training import TrainingState

ReasonKind = Literal[
    "SIMILAR_CUSTOMERS", "SIMILAR_TO_PURCHASED", "CONTENT_MATCH", "PREFERRED_CATEGORY", "TRENDING"
]


@dataclass(frozen=True)
class Profiles:
    """b customers: profiles (b x m csr, values in [0, 1]), strengths (b x m csr, raw decayed
    event weights) and rows (b,): each customer's row in the training matrices, or -1."""

    profiles: sp.csr_matrix
    strengths: sp.csr_matrix
    rows: np.ndarray


class ScoringModel(ABC):
    """A fitted model; immutable after fit, safe to read from many threads.

    reason_kind: the reason a customer reads for this model's share of a score;
    tunes_popularity_exponent: blend fitting tries with_popularity_exponent values.
    """

    reason_kind: ClassVar[ReasonKind] = "SIMILAR_CUSTOMERS"
    tunes_popularity_exponent: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> ScoringModel:
        """The model trained on `state` with the knobs of `config`."""

    @abstractmethod
    def score(self, batch: Profiles) -> np.ndarray:
        """(b x m) raw scores, float32 or float64; negative values count as 0."""

    @property
    @abstractmethod
    def algorithm(self) -> str:
        """The model as people know it, with its main parameter, e.g. `EASE (λ=278)`."""

    def similar(self, item: int) -> np.ndarray | None:
        """(m,) similarity of every product to product index `item`, or None when the model has
        no product-to-product notion."""
        return None

    def contributions(
        self, items: np.ndarray, values: np.ndarray, targets: np.ndarray
    ) -> np.ndarray | None:
        """(p x t): the part of target t's score due to the customer's product items[p] with
        profile value values[p]; None when scores do not decompose by product."""
        return None

    def cells_per_customer(self, n: int, m: int) -> int:
        """Scratch cells that scoring one customer needs, for batch sizing (default: m)."""
        return m

    def problems(self, n: int, m: int) -> list[str]:
        """Where this model's arrays disagree with n customers x m products (a damaged
        artifact); empty when they fit."""
        return []

    def for_serving(self) -> ScoringModel:
        """This model without what only training needs (default: itself)."""
        return self

    def with_popularity_exponent(self, exponent: float) -> ScoringModel:
        """The model with neighbour weights divided by neighbour degree^exponent, where the model
        supports it (blend fitting tunes it); default: itself."""
        return self
