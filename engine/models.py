"""Scoring components: EASE, sparse item-kNN, user-kNN, TF-IDF content, popularity.

Every scorer maps sparse user profiles P (b x m, csr, values in [0, 1]) to raw scores (b x m).
All arithmetic on user rows is row-independent (scipy sparse kernels, no BLAS on the user axis),
so a user scored alone gets bit-identical scores to the same user scored in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from engine.data import Catalog


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class ItemItemModel:
    """Item-to-item weights W (a x a) over the `active` product indices (a,) of an m-catalog.

    position (m,) maps a product to its row in W or -1. Scores are P[:, active] @ W; W is dense
    (EASE) or csr (kNN); its diagonal is zero.
    """

    active: np.ndarray
    position: np.ndarray
    weights: np.ndarray | sp.csr_matrix
    m: int

    def _sub(self, profiles: sp.csr_matrix) -> sp.csr_matrix:
        pos = self.position[profiles.indices]
        keep = pos >= 0
        rows = np.repeat(np.arange(profiles.shape[0]), np.diff(profiles.indptr))
        return sp.csr_matrix(
            (profiles.data[keep].astype(self.weights.dtype), (rows[keep], pos[keep])),
            shape=(profiles.shape[0], len(self.active)),
        )

    def score(self, profiles: sp.csr_matrix) -> np.ndarray:
        """(b x m) float32 scores; columns outside `active` are 0."""
        sub = self._sub(profiles)
        part = (
            sub @ self.weights
            if isinstance(self.weights, np.ndarray)
            else (sub @ self.weights).toarray()
        )
        if len(self.active) == self.m:
            return part
        out = np.zeros((profiles.shape[0], self.m), dtype=part.dtype)
        out[:, self.active] = part
        return out

    def contribution_matrix(
        self, items: np.ndarray, values: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """(p x t): values[j] * W[items[j], targets[c]] = item j's part of target c's score."""
        out = np.zeros((len(items), len(targets)))
        pi, pt = self.position[items], self.position[targets]
        okr, okc = np.flatnonzero(pi >= 0), np.flatnonzero(pt >= 0)
        if len(okr) == 0 or len(okc) == 0:
            return out
        if isinstance(self.weights, np.ndarray):
            block = self.weights[np.ix_(pi[okr], pt[okc])]
        else:
            block = self.weights[pi[okr]][:, pt[okc]].toarray()
        out[np.ix_(okr, okc)] = block * values[okr, None]
        return out

    def neighbours(self, item: int) -> np.ndarray:
        """(m,) similarity of every product to `item` (the item's W column, symmetrised for kNN)."""
        out = np.zeros(self.m)
        pos = self.position[item]
        if pos < 0:
            return out
        if isinstance(self.weights, np.ndarray):
            out[self.active] = self.weights[:, pos]
        else:
            col = self.weights[:, [pos]].toarray().ravel()
            row = self.weights[pos].toarray().ravel()
            out[self.active] = np.maximum(col, row)
        return out


def _positions(active: np.ndarray, m: int) -> np.ndarray:
    pos = np.full(m, -1, dtype=np.int64)
    pos[active] = np.arange(len(active))
    return _frozen(pos)


def ease(
    gram_input: sp.csr_matrix, lam: float | None, lam_per_degree: float, min_users: int = 1
) -> tuple[ItemItemModel, float]:
    """EASE (Steck 2019) on the products with >= min_users customers; returns model and lambda.

    gram_input: (n x m) csr, non-negative. lam None -> lam_per_degree * mean diagonal of the Gram.
    Memory/time O(a^2)/O(a^3) for a active products: only for a up to ~10k.
    """
    m = gram_input.shape[1]
    active = np.flatnonzero(np.diff(gram_input.tocsc().indptr) >= max(min_users, 1))
    x = gram_input[:, active]
    g = (x.T @ x).toarray()
    diag = np.diag_indices_from(g)
    mean_deg = float(g[diag].mean()) if len(active) else 1.0
    used = float(lam) if lam is not None else max(1.0, lam_per_degree * mean_deg)
    g[diag] += used
    try:
        p = scipy.linalg.solve(
            g.astype(np.float32),
            np.eye(len(active), dtype=np.float32),
            assume_a="pos",
            overwrite_a=True,
            overwrite_b=True,
            check_finite=False,
        )
    except np.linalg.LinAlgError:
        p = np.linalg.inv(g).astype(np.float32)
    b = p / (-np.diag(p))
    b[diag] = 0.0
    return ItemItemModel(
        _frozen(active), _positions(active, m), _frozen(np.ascontiguousarray(b)), m
    ), used


def _top_k_sparse(
    dense: np.ndarray, k: int, row_offset: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, col, value triplets of the k largest positive entries of every row of `dense`."""
    k = min(k, dense.shape[1])
    idx = np.argpartition(-dense, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(dense, idx, 1)
    rows = np.repeat(np.arange(dense.shape[0]) + row_offset, k)
    keep = vals.ravel() > 0
    return rows[keep], idx.ravel()[keep], vals.ravel()[keep]


@dataclass(frozen=True)
class KnnPool:
    """Top-`size` cosine neighbours per active product (csr a x a, diagonal zero) and the number of
    customers of each active product (a,), from which item-kNN models are selected."""

    active: np.ndarray
    position: np.ndarray
    pool: sp.csr_matrix
    degree: np.ndarray
    m: int

    def select(self, neighbours: int, popularity_exponent: float) -> ItemItemModel:
        """Keep per product the top `neighbours` of sim / degree(neighbour)^exponent (RP3beta-like
        popularity penalty; 0 = plain cosine); weights are the penalised similarities."""
        p = self.pool
        rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
        vals = p.data / self.degree[p.indices] ** np.float32(popularity_exponent)
        order = np.lexsort((p.indices, -vals, rows))
        rank = np.arange(len(order)) - p.indptr[rows[order]]
        keep = order[rank < neighbours]
        w = sp.csr_matrix(
            (vals[keep].astype(np.float32), (rows[keep], p.indices[keep])), shape=p.shape
        )
        return ItemItemModel(self.active, self.position, w, self.m)


def item_knn(
    gram_input: sp.csr_matrix, neighbours: int, shrink: float, cells: int = 20_000_000
) -> KnnPool:
    """Cosine item-kNN with shrinkage: the top 2 * `neighbours` per product, memory O(a*k).

    Similarities are computed in blocks of about `cells` float32 entries.
    """
    m = gram_input.shape[1]
    active = np.flatnonzero(np.diff(gram_input.tocsc().indptr) > 0)
    chunk = int(np.clip(cells // max(len(active), 1), 32, 1024))
    x = gram_input[:, active].tocsc().astype(np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(0)).ravel())
    degree = np.diff(x.indptr).astype(np.float32)
    xt = x.T.tocsr()
    xc = x.tocsc()
    rows, cols, vals = [], [], []
    a = len(active)
    for start in range(0, a, chunk):
        stop = min(a, start + chunk)
        dots = (xt[start:stop] @ xc).toarray()
        dots /= norms[start:stop, None] * norms[None, :] + shrink
        dots[np.arange(stop - start), np.arange(start, stop)] = 0.0
        r, c, v = _top_k_sparse(dots, 2 * neighbours, start)
        rows.append(r)
        cols.append(c)
        vals.append(v)
    pool = sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(a, a),
    )
    pool.sort_indices()
    return KnnPool(_frozen(active), _positions(active, m), pool, _frozen(degree), m)


@dataclass(frozen=True)
class UserKnnModel:
    """User-based cosine CF over interaction strengths R (n x m), shrunk by overlap size."""

    strengths: sp.csr_matrix
    binary_t: sp.csr_matrix
    norms: np.ndarray
    neighbours: int
    shrink: float

    def score(self, profiles: sp.csr_matrix, user_rows: np.ndarray) -> np.ndarray:
        """(b x m): sum over the top neighbours v of sim(u, v) * R[v] / sum sim.

        sim = cosine(u, v) * overlap / (overlap + shrink), over users sharing a product only.
        user_rows (b,): the user's own row in R (excluded from its neighbours) or -1.
        """
        b = profiles.shape[0]
        dots = (profiles @ self.strengths.T).tocsr()
        dots.sort_indices()
        binary = profiles.copy()
        binary.data = np.ones_like(binary.data)
        overlap = (binary @ self.binary_t).tocsr()
        overlap.sort_indices()
        if overlap.nnz != dots.nnz or not np.array_equal(overlap.indices, dots.indices):
            both = (dots > 0).multiply(overlap > 0).tocsr()
            dots = dots.multiply(both).tocsr()
            overlap = overlap.multiply(both).tocsr()
            dots.sort_indices()
            overlap.sort_indices()
        pn = np.sqrt(np.asarray(profiles.multiply(profiles).sum(1)).ravel())
        rows_of = np.repeat(np.arange(b), np.diff(dots.indptr))
        sims = dots.data / (pn[rows_of] * self.norms[dots.indices] + 1e-12)
        if self.shrink:
            sims *= overlap.data / (overlap.data + self.shrink)
        sims[dots.indices == user_rows[rows_of]] = 0.0
        top_rows, top_cols, top_vals = [], [], []
        for r in range(b):
            lo, hi = dots.indptr[r], dots.indptr[r + 1]
            vals, cols = sims[lo:hi], dots.indices[lo:hi]
            if hi - lo > self.neighbours:
                keep = np.argpartition(-vals, self.neighbours - 1)[: self.neighbours]
                vals, cols = vals[keep], cols[keep]
            good = vals > 0
            top_rows.append(np.full(int(good.sum()), r))
            top_cols.append(cols[good])
            top_vals.append(vals[good])
        top = sp.csr_matrix(
            (np.concatenate(top_vals), (np.concatenate(top_rows), np.concatenate(top_cols))),
            shape=(b, self.strengths.shape[0]),
        )
        denom = np.asarray(top.sum(1)).ravel() + 1e-12
        return (top @ self.strengths).toarray() / denom[:, None]


@dataclass(frozen=True)
class ContentModel:
    """TF-IDF over name (1-2 grams), description, tags and category; rows L2-normalised (m x V)."""

    tfidf: sp.csr_matrix
    self_similarity: np.ndarray

    def score(self, profiles: sp.csr_matrix) -> np.ndarray:
        """(b x m) float32: sum over profile items j of P[u, j] * cos(j, i), without self."""
        p32 = profiles.astype(np.float32)
        u = (p32 @ self.tfidf).toarray()
        out = np.ascontiguousarray((self.tfidf @ u.T).T)
        rows = np.repeat(np.arange(profiles.shape[0]), np.diff(profiles.indptr))
        out[rows, profiles.indices] -= p32.data * self.self_similarity[profiles.indices]
        return np.maximum(out, 0.0, out=out)

    def similarity(self, item: int) -> np.ndarray:
        """(m,) cosine of every product to `item` (self included)."""
        return (self.tfidf @ self.tfidf[item].T).toarray().ravel()

    def pairs(self, items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """(p x t) cosine of each of `items` to each of `targets`."""
        return (self.tfidf[items] @ self.tfidf[targets].T).toarray()


def _field(
    texts: np.ndarray, ngrams: tuple[int, int], max_features: int, token_pattern: str | None = None
) -> sp.csr_matrix | None:
    from sklearn.feature_extraction.text import TfidfVectorizer  # training only: not at serving

    if not any(t.strip() for t in texts):
        return None
    kwargs: dict[str, object] = {
        "ngram_range": ngrams,
        "max_features": max_features,
        "dtype": np.float64,
    }
    if token_pattern is not None:
        kwargs["token_pattern"] = token_pattern
    try:
        return TfidfVectorizer(**kwargs).fit_transform(texts.tolist()).tocsr()  # type: ignore[arg-type]
    except ValueError:
        return None


def content_model(catalog: Catalog, max_features: int) -> ContentModel:
    """TF-IDF fields weighted name 1.0, tags 0.6, category 0.5, description 0.4, then L2 rows."""
    tags = np.array(
        [
            " ".join("tag_" + "_".join(t.lower().split()) for t in s.split(";") if t.strip())
            for s in catalog.tags
        ]
    )
    cats = np.array(["cat_" + "_".join(c.lower().split()) if c else "" for c in catalog.categories])
    fields = [
        (_field(catalog.names, (1, 2), max_features), 1.0),
        (_field(tags, (1, 1), max_features, r"\S+"), 0.6),
        (_field(cats, (1, 1), max_features, r"\S+"), 0.5),
        (_field(catalog.descriptions, (1, 2), max_features), 0.4),
    ]
    mats = [f * w for f, w in fields if f is not None]
    m = len(catalog)
    t = sp.hstack(mats).tocsr() if mats else sp.csr_matrix((m, 1))
    norms = np.sqrt(np.asarray(t.multiply(t).sum(1)).ravel())
    t = (sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ t).tocsr()
    t = t.astype(np.float32)
    t.sort_indices()
    return ContentModel(t, _frozen(np.asarray(t.multiply(t).sum(1)).ravel().astype(np.float32)))


def decayed_popularity(
    items: np.ndarray, weights: np.ndarray, age_days: np.ndarray, half_life: float | None, m: int
) -> np.ndarray:
    """(m,) log1p(10 * sum of decayed event weights) scaled so the max is 1 (0 when no events)."""
    decay = np.ones_like(age_days) if not half_life else np.exp2(-age_days / half_life)
    p = np.log1p(10.0 * np.bincount(items, weights=weights * decay, minlength=m))
    top = p.max() if len(p) else 0.0
    return p / top if top > 0 else p


def newness(first_seen_age_days: np.ndarray, half_life: float) -> np.ndarray:
    """(m,) 2^(-age of first event / half-life); 0 for products without events (age = inf)."""
    with np.errstate(over="ignore"):
        return np.where(
            np.isfinite(first_seen_age_days),
            np.exp2(-np.minimum(first_seen_age_days, 1e6) / half_life),
            0.0,
        )
