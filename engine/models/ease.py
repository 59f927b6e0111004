"""EASE (Steck 2019): closed-form item-item weights; dense, for up to ~10k active products."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.models import register
from engine.models.item_item import ItemItemModel, frozen, positions
from engine.training import TrainingState


@register("ease")
@dataclass(frozen=True)
class EaseModel(ItemItemModel):
    """EASE weights B = -P / diag(P), P = (G + λI)^-1 over the active products; lam = λ used."""

    lam: float

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> EaseModel:
        return ease(
            state.gram_input(),
            config.ease_lambda,
            config.ease_lambda_per_degree,
            config.ease_min_users,
        )

    @property
    def algorithm(self) -> str:
        return f"EASE (λ={self.lam:.0f})"


def ease(
    gram_input: sp.csr_matrix, lam: float | None, lam_per_degree: float, min_users: int = 1
) -> EaseModel:
    """EASE on the products with >= min_users customers.

    gram_input: (n x m) csr, non-negative. lam None -> lam_per_degree * mean diagonal of the Gram.
    Memory/time O(a^2)/O(a^3) for a active products: only for a up to ~10k.
    """
    import scipy.linalg  # training only: keeps LAPACK wrappers out of serving processes

    m = gram_input.shape[1]
    active = np.flatnonzero(np.diff(gram_input.tocsc().indptr) >= max(min_users, 1))
    x = gram_input[:, active]
    g = (x.T @ x).toarray()
    diag = np.diag_indices_from(g)
    mean_deg = float(g[diag].mean()) if len(active) else 1.0
    used = float(lam) if lam is not None else max(1.0, lam_per_degree * mean_deg)
    g[diag] += used
    try:
        p = scipy.linalg.solve(
            g.astype(np.float32),
            np.eye(len(active), dtype=np.float32),
            assume_a="pos",
            overwrite_a=True,
            overwrite_b=True,
            check_finite=False,
        )
    except np.linalg.LinAlgError:
        p = np.linalg.inv(g).astype(np.float32)
    b = p / (-np.diag(p))
    b[diag] = 0.0
    return EaseModel(frozen(active), positions(active, m), frozen(np.ascontiguousarray(b)), m, used)
