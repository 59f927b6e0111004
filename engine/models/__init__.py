"""Scoring models registered by name: an EngineConfig names its models, nothing branches on class.

Add a model: one file with a ScoringModel subclass decorated with `@register("name")` (or a
factory function), plus its import below; then `EngineConfig(cf="name")` uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from engine.config import EngineConfig
from engine.models.base import Profiles, ReasonKind, ScoringModel
from engine.training import TrainingState

ModelFactory = Callable[[TrainingState, EngineConfig], ScoringModel]
MODELS: dict[str, ModelFactory] = {}
T = TypeVar("T", bound=type[ScoringModel] | ModelFactory)


def register(name: str) -> Callable[[T], T]:
    """Class or factory decorator: make `name` usable as EngineConfig.cf."""

    def add(target: T) -> T:
        if name in MODELS:
            raise ValueError(f"a model named {name!r} is already registered")
        MODELS[name] = target.fit if isinstance(target, type) else target
        return target

    return add


def fit_model(name: str, state: TrainingState, config: EngineConfig) -> ScoringModel | None:
    """The registered model `name` fitted on `state`; None for "none" or a state without
    customers. KeyError names the known models."""
    if name == "none" or len(state.user_ids) == 0:
        return None
    try:
        factory = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered: {sorted(MODELS)}") from None
    return factory(state, config)


def model_classes() -> dict[str, type[ScoringModel]]:
    """Every ScoringModel subclass defined so far, by class name (what artifacts may hold)."""
    found: dict[str, type[ScoringModel]] = {}
    pending = list(ScoringModel.__subclasses__())
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


from engine.models import (  # noqa: E402, F401 (built-ins)
    als,
    auto,
    content,
    ease,
    ease_knn,
    item_knn,
    user_knn,
)

__all__ = [
    "MODELS",
    "ModelFactory",
    "Profiles",
    "ReasonKind",
    "ScoringModel",
    "fit_model",
    "model_classes",
    "register",
]
