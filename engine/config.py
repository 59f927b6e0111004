"""Engine configuration: every knob of training, blending and business rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ExcludeRule = Literal["purchased", "interacted"]


@dataclass(frozen=True)
class BlendWeights:
    """Linear blend: cf*cf_n + content*content_n + popularity*pop(hl) + newness*new(hl).

    cf and content are per-user max-normalised to [0, 1]; pop and new are global in [0, 1].
    cf_popularity_exponent: item-kNN neighbour weights / (customers of the neighbour)^exponent.
    """

    cf: float = 1.0
    content: float = 0.4
    popularity: float = 0.8
    popularity_half_life_days: float | None = 7.0
    newness: float = 0.8
    newness_half_life_days: float = 90.0
    cf_popularity_exponent: float = 0.0


@dataclass(frozen=True)
class EngineConfig:
    """All knobs of the engine; immutable. Half-lives and windows are in days; None = off.

    cf: the name of a registered model (engine/models/): "auto" = EASE when at most
    `ease_max_items` products have events (dense O(a^2) memory, O(a^3) time), else implicit
    ALS (als_* knobs: factors, iterations, regularisation, confidence alpha, fold-in ridge);
    "ease", "als", "ease_knn" (EASE on the most active products + item-kNN tail), "item_knn";
    "user_knn" = the brief's user-based cosine CF; "none".
    ease_lambda None = ease_lambda_per_degree * mean diagonal of the Gram (data density);
    products with fewer than ease_min_users customers get no CF score (content/trend only).
    gram_half_life_days decays events in the item-item Gram; profile_half_life_days decays
    the customer's own events when scoring. knn_shrink: cos = dot / (|a||b| + shrink).
    user_overlap_shrink: user similarity *= overlap / (overlap + shrink) (brief's confidence).
    fit_blend: tune `blend` on the last `validation_days` of the training events (at most a
    quarter of the history, >= validation_min_users customers, sampled to validation_max_users).
    exclude: which of the customer's products are never recommended. category_boost: score *=
    1 + boost for products of the customer's preferred categories (share of the customer's
    event strength >= preferred_category_share, at most preferred_category_max of them).
    max_per_category: cap per category in one list (None = no cap; uncategorised never capped).
    recency_window_days: ignore events older than this at fit time.
    max_idle_days: at fit time event ages run on the shop clock, which counts an idle gap (no
    events at all) longer than this as this many days, so an imported history stays the recent
    past of the first live events (None = wall clock).
    trend_*: shop-wide evidence (engine/models/trend.py); each customer counts once per product
    per `trend_window_days`. The trending list (and the list of customers without a profile)
    holds products with >= trend_min_customers distinct customers within trend_support_days,
    ranked by a prior of distinct customers per day (half-life trend_prior_half_life_days) plus
    the latest window's customers where that window alone has >= trend_min_customers of them.
    The trending list's "now" is the newest event with evidence behind it (its product had
    trend_min_customers distinct customers in its window, `activity_anchor`): until then the
    last busy day stays "today", so clicks after a quiet night or an imported history move
    nothing.
    exclude_cart: products in the customer's open cart (added, not bought since) are not
    recommended either.
    ranker: a second stage (engine/ranking.py) re-orders the blend's top `ranker_candidates`
    with gradient-boosted trees learned on the last windows of `ranker_window_days` of the
    training events (2 to `ranker_windows` of them, no more once they hold
    `ranker_train_users` customers; at most `ranker_max_users` customers per window; LightGBM
    lambdarank: `ranker_rounds` trees of at most `ranker_leaves` leaves and depth
    `ranker_depth`, starting from ranker_blend_margin x the blend score, averaged over
    `ranker_bags` bagged boosters); with ranker_must_win it serves only when, learned on the
    earlier windows, it beats the blend on the last one. ranker_drop: feature groups
    (engine.features.FEATURE_GROUPS) left out, for ablations. ranker_popularity_penalties: the
    penalties per log1p(customers) tried, the largest within ranker_penalty_tolerance
    (relative NDCG) of no penalty is kept (wider lists at equal accuracy).
    content_exact_max_items: above this many products, content cosine is a rank-`content_rank`
    truncated SVD of the TF-IDF rows (engine/models/content.py); None = always exact.
    """

    name: str = "default"
    cf: str = "auto"
    ease_max_items: int = 6000
    ease_lambda: float | None = None
    ease_lambda_per_degree: float = 6.5
    ease_min_users: int = 2
    gram_half_life_days: float | None = 120.0
    profile_half_life_days: float | None = None
    knn_neighbours: int = 100
    knn_shrink: float = 10.0
    als_factors: int = 128
    als_iterations: int = 6
    als_regularization: float = 1.0
    als_alpha: float = 20.0
    als_fold_in_lambda: float = 100.0
    user_neighbours: int = 50
    user_overlap_shrink: float = 5.0
    content: bool = True
    content_max_features: int = 200_000
    content_exact_max_items: int | None = None
    content_rank: int = 128
    blend: BlendWeights = field(default_factory=BlendWeights)
    fit_blend: bool = True
    validation_days: float = 28.0
    validation_min_users: int = 100
    validation_max_users: int = 3000
    exclude: ExcludeRule = "purchased"
    category_boost: float = 0.3
    preferred_category_share: float = 0.2
    preferred_category_max: int = 3
    max_per_category: int | None = 2
    recency_window_days: float | None = None
    max_idle_days: float | None = 7.0
    trend_window_days: float = 1.0
    trend_min_customers: int = 3
    trend_prior_half_life_days: float = 14.0
    trend_support_days: float = 56.0
    exclude_cart: bool = True
    seed: int = 0
    ranker: bool = False
    ranker_must_win: bool = True
    ranker_window_days: float = 28.0
    ranker_windows: int = 4
    ranker_train_users: int = 6000
    ranker_bags: int = 2
    ranker_candidates: int = 200
    ranker_max_users: int = 3000
    ranker_rounds: int = 30
    ranker_leaves: int = 7
    ranker_depth: int = 6
    ranker_blend_margin: float = 5.0
    ranker_learning_rate: float = 0.05
    ranker_drop: tuple[str, ...] = ()
    ranker_popularity_penalties: tuple[float, ...] = (0.0, 0.02, 0.05)
    ranker_penalty_tolerance: float = 0.005


CONFIGS: dict[str, EngineConfig] = {
    "default": EngineConfig(ranker=True),
    "default-blend": EngineConfig(name="default-blend"),
    "ranked": EngineConfig(name="ranked", ranker=True, ranker_must_win=False),
    "brief": EngineConfig(
        name="brief",
        cf="user_knn",
        gram_half_life_days=None,
        blend=BlendWeights(cf=0.4, content=0.6, popularity=0.0, newness=0.0),
        fit_blend=False,
    ),
    "popularity": EngineConfig(
        name="popularity",
        cf="none",
        content=False,
        blend=BlendWeights(cf=0.0, content=0.0, popularity=1.0, newness=0.0),
        fit_blend=False,
    ),
}
