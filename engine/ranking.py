"""The second stage: a learned order over the blend's candidates.

fit_ranker splits the training events at `ranker_window_days` before the end: a sub-model and the
blend score customers on the events before the window; their top `ranker_candidates` products
get features (engine/features.py) and labels from the window (the products a customer first
touched there, as in the offline protocol). LightGBM's LambdaMART (`lambdarank`) learns the
order on one window and is checked against the blend's own order on the next one (forward in
time, as it will serve).
The trees are then kept as arrays (TreeEnsemble: no pickle, no LightGBM at serving), and
Ranker.order scores a batch of customers' candidates with them. Nothing after the training
period is ever read: the window lies inside it.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.config import BlendWeights, EngineConfig
from engine.features import FEATURE_GROUPS, FEATURES, RankingFacts, build_facts, feature_block
from engine.metrics import ndcg_at_k
from engine.models import Profiles, ScoringModel, fit_model
from engine.scoring import Scorer, ShopEvidence, shop_evidence
from engine.training import TrainingState, build_state, profile_matrix

_ROWS_PER_CHUNK = 1_500_000


@dataclass(frozen=True)
class TreeEnsemble:
    """T regression trees as (T x N) arrays, N = the largest tree's node count; read-only.

    Node j of tree t: numerical split `x[feature] <= threshold` goes to `left`, else `right`;
    a NaN goes to `left` where default_left (LightGBM's missing type NaN), or is read as 0
    where not nan_missing. Leaves point to themselves with value = the leaf output (internal
    nodes: value 0). prediction(x) = sum over trees of the value reached after `depth` steps.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    nan_missing: np.ndarray
    value: np.ndarray
    depth: int

    @property
    def trees(self) -> int:
        """Number of trees."""
        return int(self.feature.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays."""
        return sum(
            int(getattr(self, f.name).nbytes)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(r,) float64 scores of the rows of x (r x F); all trees walked together, level by
        level (a leaf points to itself)."""
        r = x.shape[0]
        t, n = self.feature.shape
        out = np.zeros(r, dtype=np.float64)
        if r == 0 or t == 0:
            return out
        base = (np.arange(t, dtype=np.int64) * n)[:, None]
        feature = self.feature.ravel()
        threshold = self.threshold.ravel()
        left = (self.left + base).ravel()
        right = (self.right + base).ravel()
        nan_left = (self.default_left & self.nan_missing).ravel()
        zero_left = (0.0 <= self.threshold).ravel()
        nan_missing = self.nan_missing.ravel()
        value = self.value.ravel()
        f_count = x.shape[1]
        step = max(1, _ROWS_PER_CHUNK // t)
        for s in range(0, r, step):
            xs = np.ascontiguousarray(x[s : s + step], dtype=np.float32).ravel()
            rows = len(xs) // f_count
            node = np.broadcast_to(base.ravel(), (rows, t)).ravel().copy()
            offset = np.repeat(np.arange(rows, dtype=np.int64) * f_count, t)
            for _ in range(self.depth):
                v = xs[offset + feature[node]]
                go_left = v <= threshold[node]
                nan = np.isnan(v)
                if nan.any():
                    go_left[nan] = np.where(
                        nan_missing[node[nan]], nan_left[node[nan]], zero_left[node[nan]]
                    )
                node = np.where(go_left, left[node], right[node])
            out[s : s + step] = value[node].reshape(rows, t).sum(1)
        return out

    @staticmethod
    def from_lightgbm(dump: dict[str, Any]) -> TreeEnsemble:
        """The trees of a LightGBM `Booster.dump_model()`; raises ValueError on what it cannot
        represent (categorical splits, zero-as-missing)."""
        infos = dump["tree_info"]
        nodes: list[list[dict[str, Any]]] = []
        for info in infos:
            flat: list[dict[str, Any]] = []
            _flatten(info["tree_structure"], flat)
            nodes.append(flat)
        n = max((len(f) for f in nodes), default=1)
        t = len(nodes)
        feature = np.zeros((t, n), dtype=np.int32)
        threshold = np.full((t, n), np.inf)
        left = np.tile(np.arange(n, dtype=np.int32), (t, 1))
        right = left.copy()
        default_left = np.ones((t, n), dtype=bool)
        nan_missing = np.zeros((t, n), dtype=bool)
        value = np.zeros((t, n))
        depth = 0
        for i, flat in enumerate(nodes):
            for j, node in enumerate(flat):
                depth = max(depth, node["depth"])
                if "leaf" in node:
                    value[i, j] = node["leaf"]
                    continue
                if node["decision_type"] != "<=" or node["missing_type"] == "Zero":
                    raise ValueError(f"unsupported split {node['decision_type']}")
                feature[i, j] = node["feature"]
                threshold[i, j] = node["threshold"]
                left[i, j], right[i, j] = node["left"], node["right"]
                default_left[i, j] = node["default_left"]
                nan_missing[i, j] = node["missing_type"] == "NaN"
        return TreeEnsemble(
            feature, threshold, left, right, default_left, nan_missing, value, max(depth, 1)
        )


def _flatten(tree: dict[str, Any], out: list[dict[str, Any]], depth: int = 0) -> int:
    """Append `tree`'s nodes to `out` in preorder; returns the index of its root."""
    index = len(out)
    if "leaf_value" in tree:
        out.append({"leaf": float(tree["leaf_value"]), "depth": depth})
        return index
    node: dict[str, Any] = {
        "feature": int(tree["split_feature"]),
        "threshold": float(tree["threshold"]),
        "decision_type": tree["decision_type"],
        "default_left": bool(tree["default_left"]),
        "missing_type": tree.get("missing_type", "None"),
        "depth": depth,
    }
    out.append(node)
    node["left"] = _flatten(tree["left_child"], out, depth + 1)
    node["right"] = _flatten(tree["right_child"], out, depth + 1)
    return index


@dataclass(frozen=True)
class Ranker:
    """A fitted second stage: facts of the serving state, trees over FEATURES, and the knobs.

    candidates: products per customer taken from the blend; score = trees(x) + blend_margin *
    blend score - popularity_penalty * pop_long (log1p customers of the product): the trees
    learn corrections to the blend's order, the penalty keeps lists off the bestsellers.
    features: the names the trees' feature indices refer to (engine.features.FEATURES).
    """

    facts: RankingFacts
    trees: TreeEnsemble
    candidates: int
    blend_margin: float
    popularity_penalty: float
    features: tuple[str, ...]

    def problems(self, n: int, m: int) -> list[str]:
        """Where the ranker's arrays disagree with n customers x m products."""
        out = self.facts.problems(n, m)
        if tuple(self.features) != FEATURES:
            out.append("the ranker was trained on other features than this engine computes")
        return out

    def order(
        self,
        scorer: Scorer,
        batch: Profiles,
        final: np.ndarray,
        cf: np.ndarray,
        content: np.ndarray,
        last_items: sp.csr_matrix | None = None,
    ) -> np.ndarray:
        """(b x m) float32: the ranker's scores on each customer's top candidates of `final`
        (b x m, -inf = excluded); the other products follow, below every candidate, in the
        blend's order (so the category cap can still fill a list). -inf stays -inf. Empty
        profiles keep `final` (trending)."""
        cols = candidates(final, self.candidates)
        pref = _preferred(scorer, batch.strengths)
        x = feature_block(
            self.facts,
            scorer.state,
            batch.rows,
            batch.strengths,
            cols,
            final,
            cf,
            content,
            pref,
            last_items,
        )
        s = self.trees.predict(x.reshape(-1, x.shape[2])).reshape(cols.shape)
        base = np.take_along_axis(final, cols, 1)
        finite = np.isfinite(base)
        s += self.blend_margin * np.where(finite, base, 0.0)
        s -= self.popularity_penalty * self.facts.product[cols, 2]
        s[~finite] = -np.inf
        top = np.where(finite, base, -np.inf).max(1, keepdims=True)
        floor = np.where(np.isfinite(s), s, np.inf).min(1, keepdims=True) - 1.0
        floor = np.where(np.isfinite(floor), floor, 0.0)
        out = (floor - (np.where(np.isfinite(top), top, 0.0) - final)).astype(np.float32)
        np.put_along_axis(out, cols, s.astype(np.float32), 1)
        cold = np.diff(batch.profiles.indptr) == 0
        out[cold] = final[cold]
        return out


def candidates(final: np.ndarray, n: int) -> np.ndarray:
    """(b x c) int64: the top c = min(n, m) columns of each row of `final`, best first."""
    c = min(n, final.shape[1])
    top = np.argpartition(-final, c - 1, axis=1)[:, :c]
    order = np.argsort(-np.take_along_axis(final, top, 1), axis=1, kind="stable")
    return np.take_along_axis(top, order, 1)


def _preferred(scorer: Scorer, strengths: sp.csr_matrix) -> np.ndarray | None:
    st = scorer.state
    if not len(st.category_names):
        return None
    return scorer.preferred(strengths)


@dataclass(frozen=True)
class _Window:
    """u customers' c candidates each: features x (u*c x F) and labels y (u*c,) row-major by
    customer; blend scores (u x c, -inf = excluded), labels (u x c bool), novel products in the
    window (u,: the ideal DCG's count, also those outside the candidates) and log1p customers
    of each candidate (u x c)."""

    x: np.ndarray
    y: np.ndarray
    blend: np.ndarray
    labels: np.ndarray
    n_relevant: np.ndarray
    pop_long: np.ndarray


def _window_rows(
    scorer: Scorer, facts: RankingFacts, rel: sp.csr_matrix, users: np.ndarray, n: int
) -> _Window:
    """The candidates of `users` (rows of scorer.state) with features and window labels; the
    customers' own earlier products are never candidates (exclude = interacted)."""
    sub = scorer.state
    xs, blends, labels, n_rel, pops = [], [], [], [], []
    size = int(np.clip(3_000_000 // max(len(sub.catalog), 1), 16, 512))
    for s in range(0, len(users), size):
        u = users[s : s + size]
        strengths = sub.strengths[u]
        batch = Profiles(profile_matrix(strengths), strengths, u)
        final, cf, ct, _ = scorer.scores(batch, strengths, keep_parts=True)
        cols = candidates(final, n)
        x = feature_block(
            facts, sub, u, strengths, cols, final, cf, ct, _preferred(scorer, strengths)
        )
        relevant = rel[u]
        lab = np.take_along_axis(relevant.toarray() > 0, cols, 1)
        lab &= np.isfinite(np.take_along_axis(final, cols, 1))
        xs.append(x)
        blends.append(np.take_along_axis(final, cols, 1))
        labels.append(lab)
        n_rel.append(np.diff(relevant.indptr))
        pops.append(facts.product[cols, 2])
    x = np.concatenate(xs)
    lab = np.concatenate(labels)
    return _Window(
        x=x.reshape(-1, x.shape[2]),
        y=lab.reshape(-1).astype(np.float32),
        blend=np.concatenate(blends),
        labels=lab,
        n_relevant=np.concatenate(n_rel),
        pop_long=np.concatenate(pops),
    )


SubModel = tuple[TrainingState, ScoringModel | None, ShopEvidence]


def _late(state: TrainingState, days: float) -> tuple[np.ndarray, float] | None:
    """(mask of the prepared events in the last `days`, capped at a quarter of the history;
    the capped days), or None when the window is empty or holds every event."""
    prep = state.prepared
    if len(prep.age_days) == 0:
        return None
    days = min(days, 0.25 * float(prep.age_days.max()))
    late = prep.age_days < days
    if not late.any() or late.all():
        return None
    return late, days


def before_window(state: TrainingState, days: float) -> SubModel | None:
    """The sub-state of the events before the last `days` (capped as in window_split), its
    collaborative model and shop evidence; the blend fitting can share it (same split); None
    as _late."""
    found = _late(state, days)
    if found is None:
        return None
    late, days = found
    early = state.prepared.select(~late)
    early = dataclasses.replace(early, age_days=early.age_days - days)
    split_now = state.now - np.timedelta64(int(days * 86400), "s")
    sub_cfg = dataclasses.replace(state.config, fit_blend=False)
    sub = build_state(sub_cfg, state.catalog, early, split_now, state.product_index)
    return sub, fit_model(sub_cfg.cf, sub, sub_cfg), shop_evidence(sub)


def window_split(
    state: TrainingState, days: float, before: SubModel | None = None
) -> tuple[SubModel, sp.csr_matrix, np.ndarray] | None:
    """(sub-state of the events before the last `days` with its collaborative model, relevance
    (n_sub x m) of products first touched in the window, customers with any) or None when the
    window holds no such customer. `days` is capped at a quarter of the history; `before`:
    before_window(state, days) when already computed."""
    found = _late(state, days)
    if found is None:
        return None
    late, days = found
    prep = state.prepared
    split_now = state.now - np.timedelta64(int(days * 86400), "s")
    if before is None or before[0].now != split_now:
        before = before_window(state, days)
        if before is None:
            return None
    sub = before[0]
    late_ev = prep.select(late)
    rows = np.fromiter(
        (sub.user_index.get(u, -1) for u in late_ev.users.tolist()), np.int64, len(late_ev.users)
    )
    ok = rows >= 0
    m = len(state.catalog)
    rel = sp.csr_matrix(
        (np.ones(int(ok.sum())), (rows[ok], late_ev.items[ok])), shape=(len(sub.user_ids), m)
    )
    rel.sum_duplicates()
    seen = sub.strengths.copy()
    seen.data[:] = 1.0
    rel = (rel - rel.multiply(seen)).tocsr()
    rel.eliminate_zeros()
    rel.data[:] = 1.0
    users = np.flatnonzero(np.diff(rel.indptr) > 0)
    if not len(users):
        return None
    return before, rel, users


def _ndcg(scores: np.ndarray, w: _Window, k: int = 10) -> float:
    return ndcg_at_k(scores, w.labels, k, w.n_relevant)


def _window(
    state: TrainingState,
    content: ScoringModel | None,
    blend: BlendWeights,
    days: float,
    rng: np.random.Generator,
    before: SubModel | None = None,
) -> tuple[_Window, TrainingState] | None:
    """The ranker rows of the last `days` of `state` (candidates and features from the events
    before, labels from the window) and the sub-state before it; None with too few customers."""
    cfg = state.config
    split = window_split(state, days, before)
    if split is None or len(split[2]) < cfg.validation_min_users:
        return None
    (sub, sub_cf, shop), rel, users = split
    if len(users) > cfg.ranker_max_users:
        users = np.sort(rng.choice(users, cfg.ranker_max_users, replace=False))
    scorer = Scorer(sub, sub_cf, content, blend, shop)
    return _window_rows(scorer, build_facts(sub), rel, users, cfg.ranker_candidates), sub


def _windows(
    state: TrainingState,
    content: ScoringModel | None,
    blend: BlendWeights,
    rng: np.random.Generator,
    before: SubModel | None = None,
) -> list[_Window]:
    """The ranker windows of `state`, latest first: each one the last ranker_window_days of the
    events before the previous one. Stops at ranker_windows, at a window with too few customers,
    or once two or more windows hold ranker_train_users customers (a large shop learns from its
    last two windows, a small one from more of its history)."""
    cfg = state.config
    out: list[_Window] = []
    current, sub_model = state, before
    while len(out) < max(cfg.ranker_windows, 2):
        if len(out) >= 2 and sum(len(w.n_relevant) for w in out) >= cfg.ranker_train_users:
            break
        found = _window(current, content, blend, cfg.ranker_window_days, rng, sub_model)
        if found is None:
            break
        out.append(found[0])
        current, sub_model = found[1], None
    return out


def _scores(trees: TreeEnsemble, w: _Window, margin: float) -> np.ndarray:
    """(u x c) ranker scores of a window's candidates before the popularity penalty."""
    finite = np.isfinite(w.blend)
    s = trees.predict(w.x).reshape(w.labels.shape) + margin * np.where(finite, w.blend, 0.0)
    s[~finite] = -np.inf
    return s


def fit_ranker(
    state: TrainingState,
    content: ScoringModel | None,
    blend: BlendWeights,
    before: SubModel | None = None,
) -> tuple[Ranker | None, dict[str, Any]]:
    """The ranker for `state` with the fitted `blend`, and a report (JSON scalars); `before`:
    before_window(state, ranker_window_days) when already computed (shared with the blend).

    Windows of W = ranker_window_days are laid back to back from the end (_windows: at least
    2, at most ranker_windows, fewer once they hold ranker_train_users customers). Validated
    forward in time: trees learned on the earlier windows order the last window's candidates
    (events before end - W, labels from the last W days); the popularity penalty is chosen
    there. The served trees are then learned on all windows. None when fewer than two windows
    have enough customers, or (ranker_must_win) when the ranker does not beat the blend on the
    last window.
    """
    t0 = time.perf_counter()
    cfg: EngineConfig = state.config
    report: dict[str, Any] = {"stage": "blend"}
    rng = np.random.default_rng(cfg.seed)
    windows = _windows(state, content, blend, rng, before)
    if len(windows) < 2:
        report["reason"] = "too few customers in the ranker windows"
        report["seconds"] = round(time.perf_counter() - t0, 2)
        return None, report
    valid = windows[0]
    dropped = {f for g in cfg.ranker_drop for f in FEATURE_GROUPS[g]}
    mask = np.array([f not in dropped for f in FEATURES])
    margin = cfg.ranker_blend_margin
    trees = _train_lambdarank(windows[:0:-1], mask, margin, cfg)
    raw = _scores(trees, valid, margin)
    blend_ndcg = _ndcg(valid.blend, valid)
    penalty, ranker_ndcg = 0.0, _ndcg(raw, valid)
    for p in cfg.ranker_popularity_penalties:
        score = _ndcg(raw - p * valid.pop_long, valid)
        if score >= ranker_ndcg * (1.0 - cfg.ranker_penalty_tolerance) and p > penalty:
            penalty = p
    chosen = _ndcg(raw - penalty * valid.pop_long, valid)
    report.update(
        window_customers=[len(w.n_relevant) for w in reversed(windows)],
        validation_ndcg_blend=round(blend_ndcg, 4),
        validation_ndcg_ranker=round(chosen, 4),
        popularity_penalty=penalty,
        won=chosen > blend_ndcg,
    )
    if cfg.ranker_must_win and not report["won"]:
        report["reason"] = "the ranker did not beat the blend on the last window"
        report["seconds"] = round(time.perf_counter() - t0, 2)
        return None, report
    trees = _train_lambdarank(windows[::-1], mask, margin, cfg)
    report.update(stage="ranker", trees=trees.trees, bytes=trees.nbytes)
    ranker = Ranker(
        facts=build_facts(state),
        trees=trees,
        candidates=cfg.ranker_candidates,
        blend_margin=margin,
        popularity_penalty=penalty,
        features=FEATURES,
    )
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return ranker, report


def _train_lambdarank(
    windows: list[_Window], mask: np.ndarray, margin: float, cfg: EngineConfig
) -> TreeEnsemble:
    """LightGBM lambdarank on the customers of `windows` with at least one label, starting from
    margin x the blend score; features outside `mask` are NaN (never split on). ranker_bags
    boosters with seeds seed, seed + 1, ... (each bags 80% of the rows) are averaged: one tree
    ensemble whose leaf values are divided by the number of bags. One thread: the host is
    shared."""
    import lightgbm as lgb  # training only: serving walks the trees as arrays

    xs, ys, inits, groups = [], [], [], []
    for w in windows:
        keep = w.labels.any(1)
        c = w.labels.shape[1]
        rows = np.repeat(keep, c)
        xs.append(np.where(mask[None, :], w.x[rows], np.nan))
        ys.append(w.y[rows])
        base = w.blend[keep]
        inits.append(margin * np.where(np.isfinite(base), base, 0.0).ravel())
        groups.append(np.full(int(keep.sum()), c))
    params = {
        "objective": "lambdarank",
        "lambdarank_truncation_level": 20,
        "learning_rate": cfg.ranker_learning_rate,
        "num_leaves": cfg.ranker_leaves,
        "max_depth": cfg.ranker_depth,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "seed": cfg.seed,
        "verbosity": -1,
    }
    data = lgb.Dataset(
        np.concatenate(xs),
        np.concatenate(ys),
        group=np.concatenate(groups),
        init_score=np.concatenate(inits),
        free_raw_data=False,
    )
    bags = max(cfg.ranker_bags, 1)
    dumps = [
        lgb.train(dict(params, seed=cfg.seed + bag), data, cfg.ranker_rounds).dump_model()
        for bag in range(bags)
    ]
    trees = TreeEnsemble.from_lightgbm(
        dict(dumps[0], tree_info=[t for d in dumps for t in d["tree_info"]])
    )
    return dataclasses.replace(trees, value=trees.value / bags)
