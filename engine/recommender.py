"""The recommender: fit on a catalog and events, then score customers with business rules.

Final score of product i for customer u (before normalisation):
    s = (w_cf * cf_n + w_content * content_n + w_pop * pop + w_new * new) * (1 + boost * preferred)
cf_n / content_n are the customer's CF / content scores divided by their maximum over the catalog;
pop / new are time-decayed popularity and product newness in [0, 1]. Lists are normalised so
that the top product has score 1.0 (every score is s / s_top).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from engine.blend import fit_blend
from engine.config import CONFIGS, BlendWeights, EngineConfig, ExcludeRule
from engine.data import EVENT_WEIGHTS, Catalog, Events
from engine.models import (
    ContentModel,
    ItemItemModel,
    KnnPool,
    UserKnnModel,
    content_model,
    decayed_popularity,
    ease,
    item_knn,
    newness,
)

__all__ = [
    "CONFIGS",
    "EngineConfig",
    "ModelInfo",
    "Reason",
    "ReasonKind",
    "Recommendation",
    "Recommender",
]

ReasonKind = Literal[
    "SIMILAR_CUSTOMERS", "SIMILAR_TO_PURCHASED", "CONTENT_MATCH", "PREFERRED_CATEGORY", "TRENDING"
]

TYPE_CODES: dict[str, int] = {"view": 1, "click": 2, "cart_add": 3, "purchase": 4}
_VERBS: dict[int, str] = {1: "viewed", 2: "viewed", 3: "added to your cart", 4: "bought"}
_FULL_WEIGHT = EVENT_WEIGHTS["purchase"]
_CELLS_PER_CHUNK = 5_000_000


@dataclass(frozen=True)
class Reason:
    """Why a product is recommended; weight = share of the product's score it explains (0..1)."""

    kind: ReasonKind
    weight: float
    product_ids: tuple[str, ...]
    category: str | None
    detail: str


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
    """Summary of a fitted model; train_seconds is wall time of fit()."""

    users: int
    products: int
    events: int
    trained_at: dt.datetime
    train_seconds: float
    config: str
    cf: str = "none"
    ease_lambda: float | None = None
    blend: BlendWeights = dataclasses.field(default_factory=BlendWeights)
    blend_fitted: bool = False
    data_until: str = ""


@dataclass(frozen=True)
class PreparedEvents:
    """Events of known products/types; arrays (n,); age_days = days before `now`, >= 0."""

    users: np.ndarray
    items: np.ndarray
    codes: np.ndarray
    weights: np.ndarray
    age_days: np.ndarray

    def select(self, mask: np.ndarray) -> PreparedEvents:
        """Subset, same order."""
        return PreparedEvents(
            self.users[mask],
            self.items[mask],
            self.codes[mask],
            self.weights[mask],
            self.age_days[mask],
        )


def prepare_events(
    events: Events, product_index: dict[str, int], now: np.datetime64, window_days: float | None
) -> PreparedEvents:
    """Map ids to indices; drop unknown products/types, future events, events outside the window."""
    n = len(events)
    items = np.fromiter(
        (product_index.get(p, -1) for p in events.product_ids.tolist()), np.int64, n
    )
    codes = np.fromiter((TYPE_CODES.get(t, 0) for t in events.types.tolist()), np.int64, n)
    age = (now - events.timestamps.astype("datetime64[s]")).astype("timedelta64[s]").astype(
        np.float64
    ) / 86400.0
    keep = (items >= 0) & (codes > 0) & (age >= 0)
    if window_days is not None:
        keep &= age <= window_days
    weight_of = np.array([0.0] + [EVENT_WEIGHTS[t] for t in TYPE_CODES])
    codes = codes[keep]
    return PreparedEvents(
        events.user_ids[keep].astype(str), items[keep], codes, weight_of[codes], age[keep]
    )


def _decay(age_days: np.ndarray, half_life: float | None) -> np.ndarray:
    return np.ones_like(age_days) if not half_life else np.exp2(-age_days / half_life)


def _row_normalise(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=1, keepdims=True) if x.shape[1] else np.zeros((x.shape[0], 1))
    x /= np.where(top > 0, top, 1.0)
    return x


@dataclass(frozen=True)
class _State:
    """Everything fit() learns; read-only after construction."""

    config: EngineConfig
    catalog: Catalog
    product_index: dict[str, int]
    user_ids: np.ndarray
    user_index: dict[str, int]
    strengths: sp.csr_matrix
    purchased: sp.csr_matrix
    kinds: sp.csr_matrix
    cf: ItemItemModel | UserKnnModel | None
    knn_pool: KnnPool | None
    ease_lambda: float | None
    content: ContentModel | None
    category_codes: np.ndarray
    category_names: np.ndarray
    category_onehot: sp.csr_matrix
    first_seen_age: np.ndarray
    prepared: PreparedEvents
    now: np.datetime64


def _csr(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    mat = sp.csr_matrix((values.astype(np.float64), (users, items)), shape=shape)
    mat.sum_duplicates()
    mat.sort_indices()
    return mat


def profile_matrix(strengths: sp.csr_matrix) -> sp.csr_matrix:
    """CF/content input P = min(strength / purchase weight, 1): one purchase = 1, a view = 0.2."""
    p = strengths.copy()
    p.data = np.minimum(p.data / _FULL_WEIGHT, 1.0)
    return p


def build_state(
    config: EngineConfig,
    catalog: Catalog,
    prep: PreparedEvents,
    now: np.datetime64,
    product_index: dict[str, int],
    content: ContentModel | None,
) -> _State:
    """Fit the CF part and user matrices on prepared events (no blend fitting)."""
    m = len(catalog)
    user_ids, uinv = np.unique(prep.users, return_inverse=True)
    n = len(user_ids)
    strengths = _csr(
        uinv,
        prep.items,
        prep.weights * _decay(prep.age_days, config.profile_half_life_days),
        (n, m),
    )
    is_purchase = prep.codes == TYPE_CODES["purchase"]
    purchased = _csr(
        uinv[is_purchase], prep.items[is_purchase], np.ones(int(is_purchase.sum())), (n, m)
    )
    purchased.data[:] = 1.0
    order = np.lexsort((prep.codes, prep.items, uinv))
    last = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        key_u, key_i = uinv[order], prep.items[order]
        last[:-1] = (key_u[1:] != key_u[:-1]) | (key_i[1:] != key_i[:-1])
    sel = order[last]
    kinds = _csr(uinv[sel], prep.items[sel], prep.codes[sel].astype(np.float64), (n, m))

    cf: ItemItemModel | UserKnnModel | None = None
    pool: KnnPool | None = None
    lam: float | None = None
    kind = config.cf
    if kind in ("auto", "ease", "item_knn") and n > 0:
        g = _csr(
            uinv,
            prep.items,
            prep.weights / _FULL_WEIGHT * _decay(prep.age_days, config.gram_half_life_days),
            (n, m),
        )
        g.data = np.sqrt(np.minimum(g.data, 1.0))
        active = int((np.diff(g.tocsc().indptr) > 0).sum())
        if kind == "ease" or (kind == "auto" and active <= config.ease_max_items):
            cf, lam = ease(
                g, config.ease_lambda, config.ease_lambda_per_degree, config.ease_min_users
            )
        else:
            pool = item_knn(g, config.knn_neighbours, config.knn_shrink)
            cf = pool.select(config.knn_neighbours, config.blend.cf_popularity_exponent)
    elif kind == "user_knn" and n > 0:
        binary = strengths.copy()
        binary.data = np.ones_like(binary.data)
        norms = np.sqrt(np.asarray(strengths.multiply(strengths).sum(1)).ravel())
        cf = UserKnnModel(
            strengths, binary.T.tocsr(), norms, config.user_neighbours, config.user_overlap_shrink
        )

    names, codes = np.unique(catalog.categories, return_inverse=True)
    codes = codes.astype(np.int64)
    if len(names) and names[0] == "":
        codes = codes - 1
        names = names[1:]
    has = codes >= 0
    onehot = sp.csr_matrix(
        (np.ones(int(has.sum())), (np.flatnonzero(has), codes[has])), shape=(m, max(len(names), 1))
    )
    first_seen = np.full(m, -np.inf)
    np.maximum.at(first_seen, prep.items, prep.age_days)
    first_seen[np.isneginf(first_seen)] = np.inf
    return _State(
        config=config,
        catalog=catalog,
        product_index=product_index,
        user_ids=user_ids,
        user_index={u: i for i, u in enumerate(user_ids.tolist())},
        strengths=strengths,
        purchased=purchased,
        kinds=kinds,
        cf=cf,
        knn_pool=pool,
        ease_lambda=lam,
        content=content,
        category_codes=codes,
        category_names=names,
        category_onehot=onehot,
        first_seen_age=first_seen,
        prepared=prep,
        now=now,
    )


class Scorer:
    """Blended scores with business rules for a fitted state and given blend weights (read-only)."""

    def __init__(self, state: _State, blend: BlendWeights) -> None:
        self.state = state
        self.blend = blend
        self.cf = state.cf
        exponent = blend.cf_popularity_exponent
        if state.knn_pool is not None and exponent != state.config.blend.cf_popularity_exponent:
            self.cf = state.knn_pool.select(state.config.knn_neighbours, exponent)
        m = len(state.catalog)
        prep = state.prepared
        w = prep.weights / _FULL_WEIGHT
        self.pop = decayed_popularity(
            prep.items, w, prep.age_days, blend.popularity_half_life_days, m
        )
        self.new = (
            newness(state.first_seen_age, blend.newness_half_life_days)
            if blend.newness
            else np.zeros(m)
        )
        trend = blend.popularity * self.pop + blend.newness * self.new
        if not trend.any():
            trend = decayed_popularity(prep.items, w, prep.age_days, 7.0, m)
        top = trend.max() if m else 0.0
        self.fallback = (trend / top if top > 0 else trend).astype(np.float32)
        self.trend_part = blend.popularity * self.pop + blend.newness * self.new
        self.trend_vector = (self.trend_part + 1e-6 * self.fallback).astype(np.float32)

    def components(
        self, profiles: sp.csr_matrix, strengths: sp.csr_matrix, user_rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(cf_n, content_n), each (b x m) float32 in [0, 1], per-user max-normalised."""
        st = self.state
        b, m = profiles.shape
        if isinstance(self.cf, ItemItemModel) and self.blend.cf:
            raw = self.cf.score(profiles)
            cf = _row_normalise(np.maximum(raw, 0.0, out=raw))
        elif isinstance(self.cf, UserKnnModel) and self.blend.cf:
            cf = _row_normalise(self.cf.score(strengths, user_rows).astype(np.float32))
        else:
            cf = np.zeros((b, m), dtype=np.float32)
        if st.content is not None and self.blend.content:
            ct = _row_normalise(st.content.score(profiles))
        else:
            ct = np.zeros((b, m), dtype=np.float32)
        return cf, ct

    def preferred(self, strengths: sp.csr_matrix) -> np.ndarray:
        """(b x C) bool: categories with >= preferred share of the user's strength, top few."""
        cfg = self.state.config
        w = (strengths @ self.state.category_onehot).toarray()
        total = w.sum(1, keepdims=True)
        share = w / np.where(total > 0, total, 1.0)
        pref = share >= cfg.preferred_category_share
        if w.shape[1] > cfg.preferred_category_max:
            kth = -np.sort(-share, axis=1)[
                :, cfg.preferred_category_max - 1 : cfg.preferred_category_max
            ]
            pref &= share >= kth
        return pref & (w > 0)

    def scores(
        self,
        profiles: sp.csr_matrix,
        strengths: sp.csr_matrix,
        user_rows: np.ndarray,
        excluded: sp.csr_matrix,
        category: str | None = None,
        keep_parts: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(final scores, -inf = not a candidate; cf_n; content_n; boosted mask), each (b x m).

        With keep_parts=False the cf_n / content_n arrays are overwritten (batch scoring).
        """
        bw = self.blend
        cf, ct = self.components(profiles, strengths, user_rows)
        w_cf, w_ct = np.float32(bw.cf), np.float32(bw.content)
        base = cf * w_cf if keep_parts else np.multiply(cf, w_cf, out=cf)
        base += ct * w_ct if keep_parts else np.multiply(ct, w_ct, out=ct)
        base += self.trend_vector[None, :]
        empty = np.flatnonzero(np.diff(profiles.indptr) == 0)
        if len(empty):
            base[empty] = self.fallback[None, :]
        boosted = np.zeros((0, 0), dtype=bool)
        cfg = self.state.config
        if cfg.category_boost and len(self.state.category_names):
            pref = self.preferred(strengths)
            codes = self.state.category_codes
            table = np.ones((pref.shape[0], pref.shape[1] + 1), dtype=np.float32)
            table[:, :-1] += np.float32(cfg.category_boost) * pref
            base *= np.take(table, codes, axis=1)
            if keep_parts:
                boosted = np.take(np.hstack([pref, np.zeros((len(pref), 1), bool)]), codes, axis=1)
        base[excluded.nonzero()] = -np.inf
        if category is not None:
            base[:, self.state.catalog.categories != category] = -np.inf
        if boosted.shape != base.shape:
            boosted = np.zeros(base.shape, dtype=bool)
        return base, cf, ct, boosted

    def _greedy(self, order: np.ndarray, k: int) -> np.ndarray:
        """The first k of `order` respecting the category cap (uncategorised products uncapped)."""
        cap = self.state.config.max_per_category
        if cap is None:
            return order[:k]
        codes = self.state.category_codes
        picked: list[int] = []
        counts: dict[int, int] = {}
        for i, c in zip(order.tolist(), codes[order].tolist(), strict=True):
            if c >= 0:
                if counts.get(c, 0) >= cap:
                    continue
                counts[c] = counts.get(c, 0) + 1
            picked.append(i)
            if len(picked) == k:
                break
        return np.array(picked, dtype=np.int64)

    def select(self, row: np.ndarray, k: int) -> np.ndarray:
        """Top-k candidate indices (finite scores), descending, ties by index, category cap."""
        finite = np.flatnonzero(np.isfinite(row))
        if len(finite) == 0 or k <= 0:
            return np.array([], dtype=np.int64)
        pool = min(len(finite), k * 4 + 32)
        while True:
            if pool < len(finite):
                part = finite[np.argpartition(-row[finite], pool - 1)[:pool]]
                part = finite[row[finite] >= row[part].min()]
            else:
                part = finite
            picked = self._greedy(part[np.lexsort((part, -row[part]))], k)
            if len(picked) == k or len(part) == len(finite):
                return picked
            pool = min(len(finite), pool * 4)

    def select_many(self, scores: np.ndarray, k: int) -> list[np.ndarray]:
        """select() for every row of scores (b x m), sharing one argpartition; same results."""
        b, m = scores.shape
        pool = min(m, k * 20 + 50)
        if k <= 0 or pool >= m:
            return [self.select(row, k) for row in scores]
        part = np.argpartition(-scores, pool - 1, axis=1)[:, :pool]
        vals = np.take_along_axis(scores, part, 1)
        cut = vals.min(axis=1)
        ties = (scores >= cut[:, None]).sum(axis=1)
        out: list[np.ndarray] = []
        for r in range(b):
            if not np.isfinite(cut[r]) or ties[r] != pool:
                out.append(self.select(scores[r], k))
                continue
            p = part[r]
            picked = self._greedy(p[np.lexsort((p, -vals[r]))], k)
            out.append(picked if len(picked) == k else self.select(scores[r], k))
        return out


class Recommender:
    """Fit once, then read from any number of threads; fit() replaces the whole internal state."""

    def __init__(self, config: EngineConfig = CONFIGS["default"]) -> None:
        self.config = config
        self._scorer: Scorer | None = None
        self._info: ModelInfo | None = None

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
        prep = prepare_events(events, product_index, now, cfg.recency_window_days)
        content = content_model(catalog, cfg.content_max_features) if cfg.content else None
        state = build_state(cfg, catalog, prep, now, product_index, content)
        blend, fitted = cfg.blend, False
        if cfg.fit_blend:
            tuned = fit_blend(state, build_state)
            if tuned is not None:
                blend, fitted = tuned, True
        scorer = Scorer(state, blend)
        seconds = time.perf_counter() - t0
        self._info = ModelInfo(
            users=len(state.user_ids),
            products=len(catalog),
            events=len(prep.items),
            trained_at=dt.datetime.now(dt.UTC),
            train_seconds=seconds,
            config=cfg.name,
            cf=type(state.cf).__name__ if state.cf is not None else "none",
            ease_lambda=state.ease_lambda,
            blend=blend,
            blend_fitted=fitted,
            data_until=str(now),
        )
        self._scorer = scorer
        return self

    @property
    def scorer(self) -> Scorer:
        """The fitted scorer; raises if fit() was not called."""
        if self._scorer is None:
            raise RuntimeError("Recommender is not fitted")
        return self._scorer

    @property
    def info(self) -> ModelInfo:
        """Size, timing and configuration of the fitted model."""
        if self._info is None:
            raise RuntimeError("Recommender is not fitted")
        return self._info

    def for_serving(self) -> Recommender:
        """A copy holding only what scoring reads: no training events, no kNN neighbour pool,
        no product descriptions or tags (same recommendations, a fraction of the memory)."""
        sc = self.scorer
        st = sc.state
        cat = st.catalog
        blank = np.full(len(cat), "", dtype="<U1")
        none = np.zeros(0, dtype=np.int64)
        state = dataclasses.replace(
            st,
            catalog=dataclasses.replace(cat, descriptions=blank, tags=blank),
            knn_pool=None,
            prepared=PreparedEvents(
                np.zeros(0, dtype="<U1"), none, none, none.astype(float), none.astype(float)
            ),
        )
        scorer = object.__new__(Scorer)
        scorer.__dict__.update(vars(sc), state=state)
        out = Recommender(self.config)
        out._scorer = scorer
        out._info = self._info
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
        cf = sc.cf
        if isinstance(cf, ItemItemModel):
            a = len(cf.active)
            if cf.m != m or cf.position.shape != (m,) or cf.weights.shape != (a, a):
                problems.append(
                    f"item-item weights {cf.weights.shape} do not fit {a} of {m} products"
                )
            elif a and (cf.active.min() < 0 or cf.active.max() >= m):
                problems.append("item-item active products are out of range")
        elif isinstance(cf, UserKnnModel) and cf.strengths.shape != (n, m):
            problems.append(f"user-kNN strengths are {cf.strengths.shape}, not {(n, m)}")
        if st.content is not None and st.content.tfidf.shape[0] != m:
            problems.append(f"content vectors have {st.content.tfidf.shape[0]} rows, not {m}")
        if problems:
            raise ValueError("; ".join(problems))

    def known_user(self, user_id: str) -> bool:
        """True when the user had events at training time."""
        return user_id in self.scorer.state.user_index

    # ------------------------------------------------------------------ scoring
    def _rows(
        self, user_ids: Sequence[str], rule: ExcludeRule
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray, sp.csr_matrix]:
        st = self.scorer.state
        rows = np.array([st.user_index.get(u, -1) for u in user_ids], dtype=np.int64)
        known = rows >= 0
        m = len(st.catalog)
        sel = sp.csr_matrix((len(rows), m))
        if known.all():
            strengths = st.strengths[rows]
        else:
            pick = sp.csr_matrix(
                (np.ones(int(known.sum())), (np.flatnonzero(known), rows[known])),
                shape=(len(rows), st.strengths.shape[0]),
            )
            strengths = (pick @ st.strengths).tocsr() if known.any() else sel
        strengths = sp.csr_matrix(strengths)
        strengths.sort_indices()
        excluded = self._excluded(strengths, rows, rule)
        return profile_matrix(strengths), strengths, rows, excluded

    def _excluded(
        self, strengths: sp.csr_matrix, rows: np.ndarray, rule: ExcludeRule
    ) -> sp.csr_matrix:
        st = self.scorer.state
        if rule == "interacted":
            return strengths
        known = rows >= 0
        if known.all():
            return st.purchased[rows]
        pick = sp.csr_matrix(
            (np.ones(int(known.sum())), (np.flatnonzero(known), rows[known])),
            shape=(len(rows), st.purchased.shape[0]),
        )
        return (pick @ st.purchased).tocsr()

    def recommend_batch(
        self, user_ids: Sequence[str], k: int = 10, exclude: ExcludeRule | None = None
    ) -> list[list[str]]:
        """Top-k product ids per user, same ranking as recommend(); exclude overrides the config."""
        sc = self.scorer
        rule = exclude or self.config.exclude
        pids = sc.state.catalog.product_ids
        out: list[list[str]] = []
        st = sc.state
        width = max(len(st.catalog), len(st.user_ids) if isinstance(st.cf, UserKnnModel) else 0)
        size = int(np.clip(_CELLS_PER_CHUNK // max(width, 1), 16, 256))
        for start in range(0, len(user_ids), size):
            chunk = list(user_ids[start : start + size])
            profiles, strengths, rows, excluded = self._rows(chunk, rule)
            final, _, _, _ = sc.scores(profiles, strengths, rows, excluded, keep_parts=False)
            out.extend(pids[picked].tolist() for picked in sc.select_many(final, k))
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
        user_id None or unknown without extra events -> trending. category restricts candidates.
        """
        sc = self.scorer
        st = sc.state
        rule = exclude or self.config.exclude
        profiles, strengths, rows, excluded = self._rows(
            [user_id or ""] if user_id is not None else [""], rule
        )
        if user_id is None:
            rows = np.array([-1])
        kinds = st.kinds[rows[0]] if rows[0] >= 0 else sp.csr_matrix((1, len(st.catalog)))
        if extra_events is not None and len(extra_events):
            prep = prepare_events(
                extra_events, st.product_index, max(st.now, extra_events.timestamps.max()), None
            )
            if len(prep.items):
                m = len(st.catalog)
                zeros = np.zeros(len(prep.items), dtype=np.int64)
                add = _csr(
                    zeros,
                    prep.items,
                    prep.weights * _decay(prep.age_days, self.config.profile_half_life_days),
                    (1, m),
                )
                strengths = (strengths + add).tocsr()
                strengths.sort_indices()
                profiles = profile_matrix(strengths)
                bought = (
                    prep.codes == TYPE_CODES["purchase"]
                    if rule == "purchased"
                    else np.ones(len(prep.items), bool)
                )
                extra_ex = _csr(
                    zeros[bought], prep.items[bought], np.ones(int(bought.sum())), (1, m)
                )
                excluded = (excluded + extra_ex).tocsr()
                best = np.zeros(m)
                np.maximum.at(best, prep.items, prep.codes.astype(np.float64))
                kinds = kinds.maximum(sp.csr_matrix(best[None, :])).tocsr()
        final, cf, ct, boosted = sc.scores(profiles, strengths, rows, excluded, category)
        picked = sc.select(final[0], k)
        if len(picked) == 0:
            return []
        top = final[0, picked[0]]
        norm = top if top > 0 else 1.0
        cold = profiles.nnz == 0
        own, weights = profiles.indices, profiles.data
        own_codes = kinds.toarray()[0][own].astype(np.int64)
        none = np.zeros((len(own), len(picked)))
        cf_con, ct_con = none, none
        if isinstance(sc.cf, ItemItemModel) and sc.blend.cf and not cold:
            cf_con = sc.cf.contribution_matrix(own, weights, picked)
        if st.content is not None and sc.blend.content and not cold:
            ct_con = st.content.pairs(own, picked) * weights[:, None]
            ct_con[own[:, None] == picked[None, :]] = 0.0
        return [
            Recommendation(
                product_id=str(st.catalog.product_ids[i]),
                score=float(max(final[0, i], 0.0) / norm),
                collaborative_score=float(cf[0, i]),
                content_score=float(ct[0, i]),
                reasons=self._reasons(
                    int(i),
                    cold,
                    cf[0, i],
                    ct[0, i],
                    bool(boosted[0, i]),
                    own,
                    cf_con[:, c],
                    ct_con[:, c],
                    own_codes,
                ),
            )
            for c, i in enumerate(picked)
        ]

    # ------------------------------------------------------------------ explanations
    def _reasons(
        self,
        item: int,
        cold: bool,
        cf: float,
        ct: float,
        boosted: bool,
        own: np.ndarray,
        cf_con: np.ndarray,
        ct_con: np.ndarray,
        own_codes: np.ndarray,
    ) -> tuple[Reason, ...]:
        """Reasons for `item`; cf_con / ct_con / own_codes (p,): part due to / strongest event
        type of each of the user's products `own`."""
        sc = self.scorer
        st = sc.state
        bw = sc.blend
        names = st.catalog.names
        pids = st.catalog.product_ids
        if cold:
            return (Reason("TRENDING", 1.0, (), None, "Popular in the shop right now"),)
        parts: list[tuple[ReasonKind, float, tuple[str, ...], str | None, str]] = []
        trend = float(sc.trend_part[item])
        base = bw.cf * cf + bw.content * ct + trend
        total = base * (1.0 + self.config.category_boost) if boosted else base

        def described(
            items: np.ndarray, contrib: np.ndarray, what: str
        ) -> tuple[tuple[str, ...], str]:
            good = np.flatnonzero(contrib > 0)
            if len(good) == 0:
                return (), what
            if len(good) > 3:
                part = np.argpartition(-contrib[good], 2)[:3]
                best = good[part][np.lexsort((items[good[part]], -contrib[good[part]]))]
            else:
                best = good[np.lexsort((items[good], -contrib[good]))]
            top = items[best]
            verb = _VERBS.get(int(own_codes[best[0]]), "bought")
            more = len(good) - 1
            tail = (
                f" and {more} other product{'s' if more > 1 else ''} you {verb}"
                if more
                else f", which you {verb}"
            )
            return tuple(str(pids[j]) for j in top), f"{what} {names[top[0]] or pids[top[0]]}{tail}"

        if bw.cf * cf > 0:
            if isinstance(sc.cf, ItemItemModel):
                ids, text = described(own, cf_con, "Similar to")
                parts.append(("SIMILAR_TO_PURCHASED", bw.cf * cf, ids, None, text))
            else:
                parts.append(
                    (
                        "SIMILAR_CUSTOMERS",
                        bw.cf * cf,
                        (),
                        None,
                        "Customers with similar purchases bought this",
                    )
                )
        if bw.content * ct > 0 and st.content is not None:
            ids, text = described(own, ct_con, "Matches")
            parts.append(("CONTENT_MATCH", bw.content * ct, ids, None, text))
        if trend > 0:
            fresh = bw.newness * sc.new[item] > bw.popularity * sc.pop[item]
            parts.append(
                (
                    "TRENDING",
                    trend,
                    (),
                    None,
                    "New in the shop and selling" if fresh else "Popular in the shop right now",
                )
            )
        if boosted:
            cat = str(st.catalog.categories[item])
            parts.append(
                (
                    "PREFERRED_CATEGORY",
                    total - base,
                    (),
                    cat,
                    f"From {cat}, one of your favourite categories",
                )
            )
        if total <= 0 or not parts:
            return (Reason("TRENDING", 1.0, (), None, "Popular in the shop right now"),)
        parts.sort(key=lambda p: -p[1])
        return tuple(
            Reason(kind, float(v / total), ids, cat, text)
            for kind, v, ids, cat, text in parts
            if v / total >= 0.01
        ) or (Reason(parts[0][0], 1.0, parts[0][2], parts[0][3], parts[0][4]),)

    # ------------------------------------------------------------------ item lists
    def similar(self, product_id: str, k: int = 10) -> list[tuple[str, float]]:
        """Products most like `product_id` (CF neighbours blended with content), top score 1.0."""
        sc = self.scorer
        st = sc.state
        item = st.product_index.get(product_id)
        if item is None:
            return []
        m = len(st.catalog)
        score = np.zeros(m)
        if isinstance(sc.cf, ItemItemModel):
            nb = sc.cf.neighbours(item)
            top = nb.max()
            if top > 0:
                score += max(sc.blend.cf, 0.5) * np.maximum(nb, 0) / top
        if st.content is not None:
            cs = st.content.similarity(item)
            cs[item] = 0.0
            top = cs.max()
            if top > 0:
                score += max(sc.blend.content, 0.5) * cs / top
        if not score.any():
            same = st.category_codes == st.category_codes[item]
            score = np.where(
                same if st.category_codes[item] >= 0 else np.ones(m, bool), sc.fallback, 0.0
            )
        score = score + 1e-6 * sc.fallback
        score[item] = -np.inf
        return self._top(score, k)

    def trending(self, k: int = 10, category: str | None = None) -> list[tuple[str, float]]:
        """Time-decayed popularity and newness, optionally within one category; top score 1.0."""
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
