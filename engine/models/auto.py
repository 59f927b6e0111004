"""`auto`: EASE while the catalog's active products fit a dense matrix; above, EASE on the most
active `ease_max_items` products with item-kNN for the long tail (engine/models/ease_knn.py)."""

from __future__ import annotations

from engine.config import EngineConfig
from engine.models import register
from engine.models.base import ScoringModel
from engine.models.ease_knn import ease_knn
from engine.training import TrainingState


@register("auto")
def fit_auto(state: TrainingState, config: EngineConfig) -> ScoringModel:
    """EASE when at most `config.ease_max_items` products have events, else EASE on that many
    most active products + item-kNN for pairs touching the others."""
    return ease_knn(state.gram_input(), config)
