"""Shop-wide product signals: time-decayed popularity and newness, each (m,) in [0, 1]."""

from __future__ import annotations

import numpy as np

from engine.training import decay


def decayed_popularity(
    items: np.ndarray, weights: np.ndarray, age_days: np.ndarray, half_life: float | None, m: int
) -> np.ndarray:
    """(m,) log1p(10 * sum of decayed event weights) scaled so the max is 1 (0 when no events)."""
    p = np.log1p(
        10.0 * np.bincount(items, weights=weights * decay(age_days, half_life), minlength=m)
    )
    top = p.max() if len(p) else 0.0
    return p / top if top > 0 else p


def newness(first_seen_age_days: np.ndarray, half_life: float) -> np.ndarray:
    """(m,) 2^(-age of first event / half-life); 0 for products without events (age = inf)."""
    with np.errstate(over="ignore"):
        return np.where(
            np.isfinite(first_seen_age_days),
            np.exp2(-np.minimum(first_seen_age_days, 1e6) / half_life),
            0.0,
        )
