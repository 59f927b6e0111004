"""Recommendation engine: data loading, models, business rules and offline evaluation."""

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
