"""Business rules: preferred categories, exclusions (purchased, in the open cart), and the
per-category cap when picking top-k."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from engine.config import EngineConfig
from engine.events import TYPE_CODES

CART_ADD_CODE = TYPE_CODES["cart_add"]


def preferred_categories(
    strengths: sp.csr_matrix, category_onehot: sp.csr_matrix, config: EngineConfig
) -> np.ndarray:
    """(b x C) bool: categories with >= preferred share of the customer's strength, top few."""
    w = (strengths @ category_onehot).toarray()
    total = w.sum(1, keepdims=True)
    share = w / np.where(total > 0, total, 1.0)
    pref = share >= config.preferred_category_share
    if w.shape[1] > config.preferred_category_max:
        kth = -np.sort(-share, axis=1)[
            :, config.preferred_category_max - 1 : config.preferred_category_max
        ]
        pref &= share >= kth
    return pref & (w > 0)


def open_cart(kinds: sp.csr_matrix) -> sp.csr_matrix:
    """(b x m) 1 where the product is in the customer's open cart, from kinds (b x m: the
    highest event code per customer and product): the strongest tie is a cart add, so it was
    added and never bought. The vocabulary has no removal event; a purchase is the only event
    that closes a cart line (and bought products are excluded by the purchased rule anyway)."""
    cart = sp.csr_matrix(kinds, copy=True)
    cart.data = (cart.data == CART_ADD_CODE).astype(np.float64)
    cart.eliminate_zeros()
    return cart


class Picker:
    """Top-k selection under the category cap: at most `cap` products per category in a list
    (uncategorised products, code -1, are never capped; cap None = no cap)."""

    def __init__(self, category_codes: np.ndarray, cap: int | None) -> None:
        self.codes = category_codes
        self.cap = cap

    def _greedy(self, order: np.ndarray, k: int) -> np.ndarray:
        """The first k of `order` respecting the category cap: an item is kept when fewer than
        `cap` earlier items of `order` share its category (vectorised; same as picking greedily)."""
        cap = self.cap
        if cap is None:
            return order[:k]
        codes = self.codes[order]
        by_code = np.argsort(codes, kind="stable")
        sorted_codes = codes[by_code]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        run = np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
        seen_before = np.empty(len(codes), dtype=np.int64)
        seen_before[by_code] = np.arange(len(codes)) - run
        return order[(codes < 0) | (seen_before < cap)][:k].astype(np.int64)

    def select(self, row: np.ndarray, k: int, start: int | None = None) -> np.ndarray:
        """Top-k candidate indices (finite scores), descending, ties by index, category cap;
        `start`: the first candidate pool size to try (the result does not depend on it)."""
        finite = np.flatnonzero(np.isfinite(row))
        if len(finite) == 0 or k <= 0:
            return np.array([], dtype=np.int64)
        pool = min(len(finite), start or k * 4 + 32)
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

    def select_many(self, scores: np.ndarray, k: int, pool: int | None = None) -> list[np.ndarray]:
        """select() for every row of scores (b x m), same results: one argpartition of a pool
        per row (default k * 20 + 50); rows whose pool the category cap exhausts are retried
        together with a pool four times larger."""
        b, m = scores.shape
        pool = min(m, pool or k * 20 + 50)
        if k <= 0 or pool >= m:
            return [self.select(row, k, pool) for row in scores]
        part = np.argpartition(-scores, pool - 1, axis=1)[:, :pool]
        vals = np.take_along_axis(scores, part, 1)
        cut = vals.min(axis=1)
        ties = (scores >= cut[:, None]).sum(axis=1)
        out: list[np.ndarray] = []
        retry: list[int] = []
        for r in range(b):
            if not np.isfinite(cut[r]):
                out.append(self.select(scores[r], k, pool))
                continue
            p = part[r]
            if ties[r] == pool:
                order = p[np.lexsort((p, -vals[r]))]
            else:  # products tied with the cut follow the ones above it by index, as in select()
                above = p[vals[r] > cut[r]]
                order = np.concatenate(
                    [
                        above[np.lexsort((above, -scores[r, above]))],
                        np.flatnonzero(scores[r] == cut[r]),
                    ]
                )
            out.append(self._greedy(order, k))
            if len(out[-1]) < k:
                retry.append(r)
        if retry:
            for r, picked in zip(retry, self.select_many(scores[retry], k, 4 * pool), strict=True):
                out[r] = picked
        return out
