"""Recommendation engine: data loading, models, business rules and offline evaluation.

Default configuration: item-item collaborative filtering (EASE for catalogs with at most 6000
products with events, else sparse cosine item-kNN) on a time-decayed (120-day half-life) Gram,
plus TF-IDF content similarity to the customer's products, time-decayed popularity (trending)
and product newness; per-customer max-normalised CF/content scores are blended linearly with
weights fitted on the last weeks of the training period, then the business rules apply
(exclusion, +30% preferred categories, at most 2 per category, top score = 1.0).
Configs "brief" (user-kNN 40% + content 60%) and "popularity" are kept for comparison.
"""

from engine.config import CONFIGS, BlendWeights, EngineConfig
from engine.data import EVENT_WEIGHTS, Catalog, Events, load_dataset
from engine.recommender import ModelInfo, Reason, ReasonKind, Recommendation, Recommender

__all__ = [
    "CONFIGS",
    "EVENT_WEIGHTS",
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
