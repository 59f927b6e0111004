"""`auto`: EASE while the catalog's active products fit a dense matrix, item-kNN above."""

from __future__ import annotations

import numpy as np

from engine.config import EngineConfig
from engine.models import register
from engine.models.base import ScoringModel
from engine.models.ease import ease
from engine.models.item_knn import item_knn
from engine.training import TrainingState


@register("auto")
def fit_auto(state: TrainingState, config: EngineConfig) -> ScoringModel:
    """EASE when at most `config.ease_max_items` products have events, else item-kNN."""
    g = state.gram_input()
    active = int((np.diff(g.tocsc().indptr) > 0).sum())
    if active <= config.ease_max_items:
        return ease(g, config.ease_lambda, config.ease_lambda_per_degree, config.ease_min_users)
    return item_knn(g, config.knn_neighbours, config.knn_shrink).with_popularity_exponent(
        config.blend.cf_popularity_exponent
    )
