"""Models are registered by name: a new model is one class and one decorator, nothing else."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine import artifacts
from engine.config import CONFIGS, EngineConfig
from engine.events import FULL_WEIGHT
from engine.models import MODELS, Profiles, ScoringModel, register
from engine.models.trend import decayed_popularity
from engine.recommender import Recommender
from engine.training import TrainingState
from tests.engine.helpers import catalog, events, shop_events


@register("test_last_week_popularity")
@dataclass(frozen=True)
class LastWeekPopularity(ScoringModel):
    """Everybody gets the products most bought in the last 7 days (a toy model)."""

    popularity: np.ndarray

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> LastWeekPopularity:
        prep = state.prepared
        return cls(
            decayed_popularity(
                prep.items, prep.weights / FULL_WEIGHT, prep.age_days, 1.0, len(state.catalog)
            )
        )

    @property
    def algorithm(self) -> str:
        return "last-week popularity"

    def score(self, batch: Profiles) -> np.ndarray:
        return np.repeat(self.popularity[None, :], batch.profiles.shape[0], axis=0)


TOY = EngineConfig(
    name="toy",
    cf="test_last_week_popularity",
    content=False,
    fit_blend=False,
    blend=dataclasses.replace(CONFIGS["default"].blend, content=0.0, popularity=0.0, newness=0.0),
)


def test_a_model_registered_from_a_test_module_serves_lists() -> None:
    rows = [(f"u{i}", "B3", "purchase", 1) for i in range(5)]
    rows += [("v0", "C2", "purchase", 28), ("v1", "C2", "purchase", 29), ("v2", "A1", "view", 29)]
    model = Recommender(TOY).fit(catalog(), events(rows))
    assert model.info.algorithm == "last-week popularity"
    first = model.recommend("v2", k=2)
    assert first[0].product_id == "C2"
    assert first[0].reasons[0].kind == "SIMILAR_CUSTOMERS"
    assert model.recommend_batch(["v2"], k=2) == [[r.product_id for r in first]]


def test_a_registered_model_round_trips_through_an_artifact(tmp_path: Path) -> None:
    model = Recommender(TOY).fit(catalog(), shop_events())
    artifacts.save(model, tmp_path / "toy")
    again = artifacts.load(tmp_path / "toy").recommender
    assert again.recommend_batch(["m0", "c1"], 3) == model.recommend_batch(["m0", "c1"], 3)
    assert again.info.algorithm == "last-week popularity"


def test_names_are_unique_and_unknown_names_are_refused() -> None:
    assert {"auto", "ease", "item_knn", "user_knn", "content"} <= set(MODELS)
    with pytest.raises(ValueError, match="already registered"):
        register("ease")(LastWeekPopularity)
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        Recommender(dataclasses.replace(TOY, cf="nope")).fit(catalog(), shop_events())


@pytest.mark.parametrize(
    ("config", "algorithm"),
    [("default", "EASE (λ="), ("brief", "user-kNN"), ("popularity", "none")],
)
def test_algorithm_comes_from_the_model(config: str, algorithm: str) -> None:
    info = Recommender(CONFIGS[config]).fit(catalog(), shop_events()).info
    assert info.algorithm.startswith(algorithm)
    knn = dataclasses.replace(CONFIGS["default"], cf="item_knn")
    assert Recommender(knn).fit(catalog(), shop_events()).info.algorithm == "item-kNN"
