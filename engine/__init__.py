"""Recommendation engine: data loading, models, business rules and offline evaluation.

Default configuration: item-item collaborative filtering (EASE for catalogs with at most 6000
products with events, else sparse cosine item-kNN) on a time-decayed (120-day half-life) Gram,
plus TF-IDF content similarity to the customer's products, time-decayed popularity (trending)
and product newness; per-customer max-normalised model scores are blended linearly with
weights fitted on the last weeks of the training period, then the business rules apply
(exclusion, +30% preferred categories, at most 2 per category, top score = 1.0).
Configs "brief" (user-kNN 40% + content 60%) and "popularity" are kept for comparison.
"""

from engine.config import CONFIGS, BlendWeights, EngineConfig
from engine.data import Catalog, Events, load_dataset
from engine.events import EVENT_TYPES, EVENT_WEIGHTS
from engine.models import ReasonKind
from engine.reasons import Anchor, Reason
from engine.recommender import ModelInfo, Recommendation, Recommender

__all__ = [
    "CONFIGS",
    "EVENT_TYPES",
    "EVENT_WEIGHTS",
    "Anchor",
    "BlendWeights",
    "Catalog",
    "EngineConfig",
    "Events",
    "ModelInfo",
    "Reason",
    "ReasonKind",
    "Recommendation",
    "Recommender",
    "load_dataset",
]
