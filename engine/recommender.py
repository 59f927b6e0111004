"""The recommender: fit on a catalog and events, then score customers with business rules.

fit: events -> TrainingState (engine/training.py) -> the configured collaborative and content
models (engine/models/, by registered name) -> blend weights fitted on a validation window
(engine/blend.py) -> a Scorer (engine/scoring.py). With config.ranker, a second stage
(engine/ranking.py) learns to re-order the blend's top candidates. recommend: the customer's
profile, with events since training folded in -> blended scores -> (the ranker's order of the
top candidates) -> rules (engine/rules.py) -> top k with structured reasons
(engine/reasons.py). Lists are normalised so that the top product has score 1.0.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.blend import fit_blend
from engine.config import CONFIGS, BlendWeights, EngineConfig, ExcludeRule
from engine.data import Catalog, Events
from engine.events import PURCHASE, TYPE_CODES
from engine.models import Profiles, fit_model
from engine.ranking import Ranker, before_window, fit_ranker
from engine.reasons import TRENDING, Anchor, CustomerProducts, Reason, evidence, reasons_for
from engine.rules import open_cart
from engine.scoring import Scorer
from engine.training import (
    PreparedEvents,
    build_state,
    csr,
    decay,
    prepare_events,
    profile_matrix,
)

__all__ = [
    "CONFIGS",
    "Anchor",
    "EngineConfig",
    "ModelInfo",
    "Reason",
    "Recommendation",
    "Recommender",
]

_CELLS_PER_CHUNK = 5_000_000


@dataclass(frozen=True)
class Recommendation:
    """One recommended product; score, collaborative_score, content_score all in [0, 1]."""

    product_id: str
    score: float
    collaborative_score: float
    content_score: float
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class ModelInfo:
    """Summary of a fitted model; train_seconds is wall time of fit(); algorithm comes from the
    collaborative model itself (e.g. `EASE (λ=278)`, "none" without one). stage: "ranker" when
    the learned second stage orders the lists, else "blend"; ranker_seconds (wall time of its
    training, inside train_seconds), ranker_bytes (its trees), ranker_trees, and the NDCG@10 of
    the blend's and the ranker's order on the ranker window's held-out customers (0: not run);
    ranker_won: the ranker beat the blend there (what `ranker_must_win` asks)."""

    users: int
    products: int
    events: int
    trained_at: dt.datetime
    train_seconds: float
    config: str
    algorithm: str = "none"
    blend: BlendWeights = dataclasses.field(default_factory=BlendWeights)
    blend_fitted: bool = False
    data_until: str = ""
    stage: str = "blend"
    ranker_seconds: float = 0.0
    ranker_bytes: int = 0
    ranker_trees: int = 0
    validation_ndcg_blend: float = 0.0
    validation_ndcg_ranker: float = 0.0
    ranker_won: bool = False


def stage_free(config: EngineConfig) -> EngineConfig:
    """`config` without the knobs that only choose the serving stage (name included): configs
    with equal stage_free share one fit (`shared_fit`, `Recommender.staged`)."""
    return dataclasses.replace(config, name="", ranker=False, ranker_must_win=True)


def shared_fit(configs: Sequence[EngineConfig]) -> EngineConfig:
    """The one config to fit so that `Recommender.staged` serves each of `configs` (equal
    stage_free): the same blend and models, and when any has a ranker, its served trees
    learned whether or not it wins its validation."""
    base = stage_free(configs[0])
    if any(stage_free(c) != base for c in configs):
        raise ValueError("configs that differ beyond their stage cannot share a fit")
    ranker = any(c.ranker for c in configs)
    return dataclasses.replace(base, name=configs[0].name, ranker=ranker, ranker_must_win=False)


class Recommender:
    """Fit once, then read from any number of threads; fit() replaces the whole internal state."""

    def __init__(self, config: EngineConfig = CONFIGS["default"]) -> None:
        self.config = config
        self._scorer: Scorer | None = None
        self._info: ModelInfo | None = None
        self._ranker: Ranker | None = None

    # ------------------------------------------------------------------ training
    def fit(
        self, catalog: Catalog, events: Events, now: np.datetime64 | None = None
    ) -> Recommender:
        """Train on all events up to `now` (default: the latest event); returns self."""
        t0 = time.perf_counter()
        cfg = self.config
        if now is None:
            now = events.timestamps.max() if len(events) else np.datetime64("now", "s")
        now = np.datetime64(now, "s")
        product_index = {p: i for i, p in enumerate(catalog.product_ids.tolist())}
        prep = prepare_events(
            events, product_index, now, cfg.recency_window_days, cfg.max_idle_days
        )
        state = build_state(cfg, catalog, prep, now, product_index)
        content = fit_model("content", state, cfg) if cfg.content else None
        cf = fit_model(cfg.cf, state, cfg)
        blend, fitted = cfg.blend, False
        before = before_window(state, cfg.ranker_window_days) if cfg.ranker else None
        if cfg.fit_blend:
            tuned = fit_blend(state, content, before=before)
            if tuned is not None:
                blend, fitted = tuned, True
        scorer = Scorer(state, cf, content, blend)
        ranker, report = fit_ranker(state, content, blend, before) if cfg.ranker else (None, {})
        self._info = ModelInfo(
            users=len(state.user_ids),
            products=len(catalog),
            events=len(prep.items),
            trained_at=dt.datetime.now(dt.UTC),
            train_seconds=time.perf_counter() - t0,
            config=cfg.name,
            algorithm=scorer.cf.algorithm if scorer.cf is not None else "none",
            blend=blend,
            blend_fitted=fitted,
            data_until=str(now),
            stage="ranker" if ranker is not None else "blend",
            ranker_seconds=float(report.get("seconds", 0.0)),
            ranker_bytes=ranker.trees.nbytes if ranker is not None else 0,
            ranker_trees=ranker.trees.trees if ranker is not None else 0,
            validation_ndcg_blend=float(report.get("validation_ndcg_blend", 0.0)),
            validation_ndcg_ranker=float(report.get("validation_ndcg_ranker", 0.0)),
            ranker_won=bool(report.get("won", False)),
        )
        self._scorer = scorer
        self._ranker = ranker
        return self

    @property
    def scorer(self) -> Scorer:
        """The fitted scorer; raises if fit() was not called."""
        if self._scorer is None:
            raise RuntimeError("Recommender is not fitted")
        return self._scorer

    @property
    def ranker(self) -> Ranker | None:
        """The learned second stage, or None when the blend orders the lists."""
        return getattr(self, "_ranker", None)

    @property
    def info(self) -> ModelInfo:
        """Size, timing and configuration of the fitted model."""
        if self._info is None:
            raise RuntimeError("Recommender is not fitted")
        return self._info

    def staged(self, config: EngineConfig) -> Recommender:
        """This fitted model serving as `config`, without refitting: `config` may differ from the
        fitted one only in name, ranker and ranker_must_win (configs that share the blend, its
        models and, with a ranker, its trees). The ranker serves when `config.ranker` and, with
        `ranker_must_win`, it won its validation. A ranker config needs a model fitted with
        `shared_fit` (the served trees are learned even when the ranker loses)."""
        fitted = self.config
        if stage_free(config) != stage_free(fitted):
            raise ValueError(f"config {config.name!r} needs its own fit, not {fitted.name!r}'s")
        if config.ranker and (not fitted.ranker or fitted.ranker_must_win):
            raise ValueError(f"config {config.name!r} needs a fit with shared_fit")
        info = self.info
        serve = config.ranker and (not config.ranker_must_win or info.ranker_won)
        ranker = self.ranker if serve else None
        out = Recommender(config)
        out._scorer = self.scorer
        out._ranker = ranker
        out._info = dataclasses.replace(
            info,
            config=config.name,
            stage="ranker" if ranker is not None else "blend",
            ranker_bytes=ranker.trees.nbytes if ranker is not None else 0,
            ranker_trees=ranker.trees.trees if ranker is not None else 0,
            **(
                {}
                if config.ranker
                else {
                    "ranker_seconds": 0.0,
                    "validation_ndcg_blend": 0.0,
                    "validation_ndcg_ranker": 0.0,
                    "ranker_won": False,
                }
            ),
        )
        return out

    def for_serving(self) -> Recommender:
        """A copy holding only what scoring reads: no training events, no kNN neighbour pool,
        no product descriptions or tags (same recommendations, a fraction of the memory)."""
        sc = self.scorer
        st = sc.state
        blank = np.full(len(st.catalog), "", dtype="<U1")
        state = dataclasses.replace(
            st,
            catalog=dataclasses.replace(st.catalog, descriptions=blank, tags=blank),
            prepared=PreparedEvents.empty(),
            event_customers=np.zeros(0, dtype=np.int64),
        )
        scorer = object.__new__(Scorer)
        scorer.__dict__.update(
            vars(sc),
            state=state,
            cf=sc.cf.for_serving() if sc.cf is not None else None,
            content=sc.content.for_serving() if sc.content is not None else None,
        )
        out = Recommender(self.config)
        out._scorer = scorer
        out._info = self._info
        out._ranker = self.ranker
        return out

    def check(self) -> None:
        """Raise ValueError when the fitted arrays disagree in shape (a damaged artifact)."""
        sc = self.scorer
        st = sc.state
        m = len(st.catalog)
        n = len(st.user_ids)
        problems = [
            f"catalog.{f.name} has {len(getattr(st.catalog, f.name))} rows, not {m}"
            for f in dataclasses.fields(st.catalog)
            if len(getattr(st.catalog, f.name)) != m
        ]
        for name in ("strengths", "purchased", "kinds"):
            if getattr(st, name).shape != (n, m):
                problems.append(f"{name} is {getattr(st, name).shape}, not {(n, m)}")
        for name in ("pop", "new", "fallback", "trend_part", "trend_vector"):
            if getattr(sc, name).shape != (m,):
                problems.append(f"{name} has shape {getattr(sc, name).shape}, not ({m},)")
        if st.category_codes.shape != (m,) or st.first_seen_age.shape != (m,):
            problems.append("category codes or first-seen ages do not cover the catalog")
        elif len(st.category_codes) and st.category_codes.max() >= len(st.category_names):
            problems.append("a category code points past the category names")
        if len(st.product_index) != m or len(st.user_index) != n:
            problems.append("the product or customer index does not match the arrays")
        for model in (sc.cf, sc.content, self.ranker):
            if model is not None:
                problems += model.problems(n, m)
        if problems:
            raise ValueError("; ".join(problems))

    def known_user(self, user_id: str) -> bool:
        """True when the user had events at training time."""
        return user_id in self.scorer.state.user_index

    def names(self, product_ids: Sequence[str]) -> list[str]:
        """Catalog names of `product_ids` ("" for unknown ids)."""
        st = self.scorer.state
        index = st.product_index
        return [str(st.catalog.names[index[p]]) if p in index else "" for p in product_ids]

    # ------------------------------------------------------------------ scoring
    def _select_rows(self, matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
        """(b x m) rows of a training matrix; empty rows for rows = -1 (unknown customers)."""
        known = rows >= 0
        if known.all():
            return matrix[rows]
        pick = sp.csr_matrix(
            (np.ones(int(known.sum())), (np.flatnonzero(known), rows[known])),
            shape=(len(rows), matrix.shape[0]),
        )
        if not known.any():
            return sp.csr_matrix((len(rows), matrix.shape[1]))
        return (pick @ matrix).tocsr()

    def _rows(self, user_ids: Sequence[str], rule: ExcludeRule) -> tuple[Profiles, sp.csr_matrix]:
        st = self.scorer.state
        rows = np.array([st.user_index.get(u, -1) for u in user_ids], dtype=np.int64)
        strengths = sp.csr_matrix(self._select_rows(st.strengths, rows))
        strengths.sort_indices()
        excluded = strengths if rule == "interacted" else self._select_rows(st.purchased, rows)
        if rule == "purchased" and self.config.exclude_cart:
            excluded = (excluded + open_cart(self._select_rows(st.kinds, rows))).tocsr()
        return Profiles(profile_matrix(strengths), strengths, rows), excluded

    def recommend_batch(
        self, user_ids: Sequence[str], k: int = 10, exclude: ExcludeRule | None = None
    ) -> list[list[str]]:
        """Top-k product ids per user, same ranking as recommend(); exclude overrides the config."""
        sc = self.scorer
        rule = exclude or self.config.exclude
        pids = sc.state.catalog.product_ids
        out: list[list[str]] = []
        st = sc.state
        width = max(
            [len(st.catalog)]
            + [
                x.cells_per_customer(len(st.user_ids), len(st.catalog))
                for x in (sc.cf, sc.content)
                if x
            ]
        )
        size = int(np.clip(_CELLS_PER_CHUNK // max(width, 1), 16, 256))
        for start in range(0, len(user_ids), size):
            batch, excluded = self._rows(list(user_ids[start : start + size]), rule)
            ranker = self.ranker
            final, cf, ct, _ = sc.scores(batch, excluded, keep_parts=ranker is not None)
            if ranker is not None:
                final = ranker.order(sc, batch, final, cf, ct)
            out.extend(pids[picked].tolist() for picked in sc.picker.select_many(final, k))
        return out

    def recommend(
        self,
        user_id: str | None,
        k: int = 10,
        extra_events: Events | None = None,
        category: str | None = None,
        exclude: ExcludeRule | None = None,
    ) -> list[Recommendation]:
        """Top-k recommendations for one customer, best first, top score 1.0.

        extra_events: the customer's events since training (their user_ids are not checked);
        they are folded into the profile and exclusions at once; unknown products are ignored.
        Excluded: the rule's products (purchased, or every interacted one) and, with the
        config's exclude_cart, the products in the customer's open cart (`rules.open_cart`).
        user_id None or unknown without extra events -> trending. category restricts candidates.
        """
        sc = self.scorer
        st = sc.state
        rule = exclude or self.config.exclude
        batch, excluded = self._rows([user_id or ""], rule)
        if user_id is None:
            batch = dataclasses.replace(batch, rows=np.array([-1]))
        row = int(batch.rows[0])
        kinds = st.kinds[row] if row >= 0 else sp.csr_matrix((1, len(st.catalog)))
        last = None
        if extra_events is not None and len(extra_events):
            batch, excluded, kinds, last = self._fold_in(batch, excluded, kinds, extra_events, rule)
            if rule == "purchased" and self.config.exclude_cart:
                excluded = (excluded + open_cart(kinds)).tocsr()
        final, cf, ct, boosted = sc.scores(batch, excluded, category)
        ranker = self.ranker
        if ranker is not None:
            final = ranker.order(sc, batch, final, cf, ct, last)
        picked = sc.picker.select(final[0], k)
        if len(picked) == 0:
            return []
        shown = _unit_scores(final[0, picked], ranker is not None and batch.profiles.nnz > 0)
        profiles = batch.profiles
        cold = profiles.nnz == 0
        own = CustomerProducts(
            profiles.indices, kinds.toarray()[0][profiles.indices].astype(np.int64)
        )
        cf_con = ct_con = None
        if not cold:
            if sc.cf is not None and sc.blend.cf:
                cf_con = sc.cf.contributions(own.items, profiles.data, picked)
            if sc.content is not None and sc.blend.content:
                ct_con = sc.content.contributions(own.items, profiles.data, picked)
        cf_ev = evidence(sc, own, cf_con, len(picked))
        ct_ev = evidence(sc, own, ct_con, len(picked))
        return [
            Recommendation(
                product_id=str(st.catalog.product_ids[i]),
                score=float(shown[c]),
                collaborative_score=float(cf[0, i]),
                content_score=float(ct[0, i]),
                reasons=(TRENDING,)
                if cold
                else reasons_for(
                    sc,
                    int(i),
                    float(cf[0, i]),
                    float(ct[0, i]),
                    bool(boosted[0, i]),
                    cf_ev[c],
                    ct_ev[c],
                ),
            )
            for c, i in enumerate(picked)
        ]

    def _fold_in(
        self,
        batch: Profiles,
        excluded: sp.csr_matrix,
        kinds: sp.csr_matrix,
        extra_events: Events,
        rule: ExcludeRule,
    ) -> tuple[Profiles, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix | None]:
        """One customer's batch, exclusions, strongest event codes with `extra_events` added, and
        their last basket (1 x m: the products of the last day of `extra_events`; None if none)."""
        st = self.scorer.state
        prep = prepare_events(
            extra_events, st.product_index, max(st.now, extra_events.timestamps.max()), None
        )
        if not len(prep.items):
            return batch, excluded, kinds, None
        m = len(st.catalog)
        zeros = np.zeros(len(prep.items), dtype=np.int64)
        add = csr(
            zeros,
            prep.items,
            prep.weights * decay(prep.age_days, self.config.profile_half_life_days),
            (1, m),
        )
        strengths = (batch.strengths + add).tocsr()
        strengths.sort_indices()
        bought = (
            prep.codes == TYPE_CODES[PURCHASE]
            if rule == "purchased"
            else np.ones(len(prep.items), bool)
        )
        extra_ex = csr(zeros[bought], prep.items[bought], np.ones(int(bought.sum())), (1, m))
        best = np.zeros(m)
        np.maximum.at(best, prep.items, prep.codes.astype(np.float64))
        recent = prep.age_days <= prep.age_days.min() + 1.0
        last = csr(zeros[recent], prep.items[recent], np.ones(int(recent.sum())), (1, m))
        last.data[:] = 1.0
        return (
            Profiles(profile_matrix(strengths), strengths, batch.rows),
            (excluded + extra_ex).tocsr(),
            kinds.maximum(sp.csr_matrix(best[None, :])).tocsr(),
            last,
        )

    # ------------------------------------------------------------------ item lists
    def similar(self, product_id: str, k: int = 10) -> list[tuple[str, float]]:
        """Products most like `product_id` (model neighbours blended with content), top 1.0."""
        sc = self.scorer
        st = sc.state
        item = st.product_index.get(product_id)
        if item is None:
            return []
        m = len(st.catalog)
        score = np.zeros(m)
        for model, weight in ((sc.cf, sc.blend.cf), (sc.content, sc.blend.content)):
            near = model.similar(item) if model is not None else None
            if near is None:
                continue
            near = np.maximum(near, 0.0)
            near[item] = 0.0
            top = near.max()
            if top > 0:
                score += max(weight, 0.5) * near / top
        if not score.any():
            same = st.category_codes == st.category_codes[item]
            score = np.where(
                same if st.category_codes[item] >= 0 else np.ones(m, bool), sc.cold_start, 0.0
            )
        score = score + 1e-6 * sc.fallback
        score[item] = -np.inf
        return self._top(score, k)

    def trending(self, k: int = 10, category: str | None = None) -> list[tuple[str, float]]:
        """Products with evidence (`Scorer.fallback`: enough distinct customers, a long-term
        prior plus the latest day's customers), optionally within one category; top 1.0."""
        sc = self.scorer
        score = np.where(sc.fallback > 0, sc.fallback, -np.inf)
        if category is not None:
            score[sc.state.catalog.categories != category] = -np.inf
        return self._top(score, k)

    def _top(self, score: np.ndarray, k: int) -> list[tuple[str, float]]:
        finite = np.flatnonzero(np.isfinite(score))
        if len(finite) == 0 or k <= 0:
            return []
        order = finite[np.lexsort((finite, -score[finite]))][:k]
        top = score[order[0]]
        norm = top if top > 0 else 1.0
        pids = self.scorer.state.catalog.product_ids
        return [(str(pids[i]), float(max(score[i], 0.0) / norm)) for i in order]


def _unit_scores(values: np.ndarray, ranked: bool) -> np.ndarray:
    """Shown scores of a list's raw scores (descending): top 1.0, all in [0, 1]. Blend scores are
    divided by the top; ranker scores (log-odds-like, any sign) become exp(s - top)."""
    if ranked:
        return np.exp(np.minimum(values - values[0], 0.0))
    top = values[0] if values[0] > 0 else 1.0
    return np.maximum(values, 0.0) / top
