"""Content similarity: TF-IDF over product names, tags, categories and descriptions.

The cosine is exact: a batch is scored either through a dense (b x V) block (one pass over every
TF-IDF entry per customer: cheap per customer in large batches) or, when the batch's features are
rare enough, fully sparse through the transposed rows (serving one customer touches only the
products sharing a feature with them). `content_exact_max_items` (off by default) switches large
catalogs to a rank-`content_rank` truncated SVD instead: faster in batches, but it lost 0.006
NDCG@10 on the public set at rank 128, so it is an option, not the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.data import Catalog
from engine.models import register
from engine.models.base import Profiles, ReasonKind, ScoringModel
from engine.models.item_item import frozen
from engine.training import TrainingState


@register("content")
@dataclass(frozen=True)
class ContentModel(ScoringModel):
    """TF-IDF rows L2-normalised (m x V, float32); tfidf_t (V x m): the same transposed;
    self_similarity (m,): squared row norms."""

    reason_kind: ClassVar[ReasonKind] = "CONTENT_MATCH"

    tfidf: sp.csr_matrix
    tfidf_t: sp.csr_matrix
    self_similarity: np.ndarray

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> ScoringModel:
        exact = content_model(state.catalog, config.content_max_features)
        limit = config.content_exact_max_items
        if limit is None or len(state.catalog) <= limit:
            return exact
        return low_rank_content(exact, config.content_rank, config.seed)

    @property
    def algorithm(self) -> str:
        return "TF-IDF content"

    def problems(self, n: int, m: int) -> list[str]:
        if self.tfidf.shape[0] != m or self.self_similarity.shape != (m,):
            return [f"content vectors have {self.tfidf.shape[0]} rows, not {m}"]
        if self.tfidf_t.shape != self.tfidf.shape[::-1]:
            return [f"transposed content vectors are {self.tfidf_t.shape}"]
        return []

    def score(self, batch: Profiles) -> np.ndarray:
        """(b x m) float32: sum over profile items j of P[u, j] * cos(j, i), without self.

        Sparse path when the products sharing the batch's features are fewer than a quarter
        of b * nnz(TF-IDF) (the dense path's work), dense path otherwise; same values.
        """
        profiles = batch.profiles
        p32 = sp.csr_matrix(profiles, dtype=np.float32)
        u = (p32 @ self.tfidf).tocsr()
        per_feature = np.diff(self.tfidf_t.indptr)
        if 4 * int(per_feature[u.indices].sum()) < profiles.shape[0] * self.tfidf.nnz:
            out = (u @ self.tfidf_t).toarray()
        else:
            out = np.ascontiguousarray((self.tfidf @ u.toarray().T).T)
        rows = np.repeat(np.arange(profiles.shape[0]), np.diff(profiles.indptr))
        out[rows, profiles.indices] -= p32.data * self.self_similarity[profiles.indices]
        return np.maximum(out, 0.0, out=out)

    def similar(self, item: int) -> np.ndarray:
        """(m,) cosine of every product to `item` (self included)."""
        return (self.tfidf @ self.tfidf[item].T).toarray().ravel()

    def contributions(
        self, items: np.ndarray, values: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """(p x t) values[p] * cos(items[p], targets[t]); 0 where a product meets itself."""
        out = (self.tfidf[items] @ self.tfidf[targets].T).toarray() * values[:, None]
        out[items[:, None] == targets[None, :]] = 0.0
        return out


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
    return ContentModel(
        t, t.T.tocsr(), frozen(np.asarray(t.multiply(t).sum(1)).ravel().astype(np.float32))
    )


@dataclass(frozen=True)
class LowRankContentModel(ScoringModel):
    """Content cosine approximated as E E^T: vectors (m x r, float32) from the truncated SVD of
    the L2-normalised TF-IDF rows; self_similarity (m,): |E_i|^2."""

    reason_kind: ClassVar[ReasonKind] = "CONTENT_MATCH"

    vectors: np.ndarray
    self_similarity: np.ndarray

    @classmethod
    def fit(cls, state: TrainingState, config: EngineConfig) -> LowRankContentModel:
        exact = content_model(state.catalog, config.content_max_features)
        return low_rank_content(exact, config.content_rank, config.seed)

    @property
    def algorithm(self) -> str:
        return f"TF-IDF content (rank {self.vectors.shape[1]})"

    def problems(self, n: int, m: int) -> list[str]:
        if self.vectors.shape[0] != m or self.self_similarity.shape != (m,):
            return [f"content vectors have {self.vectors.shape[0]} rows, not {m}"]
        return []

    def score(self, batch: Profiles) -> np.ndarray:
        """(b x m) float32: sum over profile items j of P[u, j] * <E_j, E_i>, without self."""
        profiles = sp.csr_matrix(batch.profiles, dtype=np.float32)
        out = (profiles @ self.vectors) @ self.vectors.T
        rows = np.repeat(np.arange(profiles.shape[0]), np.diff(profiles.indptr))
        out[rows, profiles.indices] -= profiles.data * self.self_similarity[profiles.indices]
        return np.maximum(out, 0.0, out=out)

    def similar(self, item: int) -> np.ndarray:
        """(m,) approximate cosine of every product to `item` (self included)."""
        return np.asarray(self.vectors @ self.vectors[item], dtype=np.float64)

    def contributions(
        self, items: np.ndarray, values: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """(p x t) values[p] * <E_items[p], E_targets[t]>; 0 where a product meets itself."""
        out = (self.vectors[items] @ self.vectors[targets].T).astype(np.float64) * values[:, None]
        out[items[:, None] == targets[None, :]] = 0.0
        return out


def low_rank_content(exact: ContentModel, rank: int, seed: int = 0) -> LowRankContentModel:
    """Rank-`rank` truncated SVD of the exact model's TF-IDF rows (randomised, seeded): the
    best rank-r approximation of the cosine matrix T T^T in Frobenius norm."""
    from sklearn.utils.extmath import randomized_svd  # training only

    t = exact.tfidf
    r = int(min(rank, max(min(t.shape), 1)))
    u, s, _ = randomized_svd(t, r, n_iter=4, random_state=seed)
    vectors = np.ascontiguousarray((u * s).astype(np.float32))
    return LowRankContentModel(
        frozen(vectors), frozen(np.einsum("ij,ij->i", vectors, vectors).astype(np.float32))
    )
