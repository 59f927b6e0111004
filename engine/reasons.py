"""Why a product is recommended, as structured evidence; the words are the app's business.

Each Reason says which part of the blend it stands for (kind), the share of the product's score it
explains (weight), and the customer's own products behind it (anchors, each with the strongest
event type that ties it to the customer, plus counts per event type over all of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.events import TYPE_NAMES
from engine.models import ReasonKind
from engine.scoring import Scorer


@dataclass(frozen=True)
class Anchor:
    """One of the customer's products behind a reason; event: its strongest event type name."""

    product_id: str
    event: str


@dataclass(frozen=True)
class Reason:
    """weight = share of the product's score it explains (0..1); anchors: strongest first, at
    most 3; anchor_counts: (event type, number of the customer's products) over every product
    behind the reason, by event type in vocabulary order; new_arrival: a TRENDING reason driven
    by newness rather than sales."""

    kind: ReasonKind
    weight: float
    anchors: tuple[Anchor, ...] = ()
    anchor_counts: tuple[tuple[str, int], ...] = ()
    category: str | None = None
    new_arrival: bool = False

    @property
    def product_ids(self) -> tuple[str, ...]:
        """The anchors' product ids, strongest first."""
        return tuple(a.product_id for a in self.anchors)


TRENDING = Reason("TRENDING", 1.0)
MAX_ANCHORS = 3


@dataclass(frozen=True)
class CustomerProducts:
    """The customer's products (p,) as catalog indices, with the highest event code of each."""

    items: np.ndarray
    codes: np.ndarray


def _evidence(
    scorer: Scorer, own: CustomerProducts, contribution: np.ndarray | None
) -> tuple[tuple[Anchor, ...], tuple[tuple[str, int], ...]]:
    """Anchors and per-type counts of the customer's products with a positive contribution (p,)."""
    if contribution is None:
        return (), ()
    good = np.flatnonzero(contribution > 0)
    if len(good) == 0:
        return (), ()
    items = own.items
    if len(good) > MAX_ANCHORS:
        part = np.argpartition(-contribution[good], MAX_ANCHORS - 1)[:MAX_ANCHORS]
        best = good[part][np.lexsort((items[good[part]], -contribution[good[part]]))]
    else:
        best = good[np.lexsort((items[good], -contribution[good]))]
    pids = scorer.state.catalog.product_ids
    anchors = tuple(
        Anchor(str(pids[items[j]]), TYPE_NAMES[int(own.codes[j])]) for j in best.tolist()
    )
    codes, counts = np.unique(own.codes[good], return_counts=True)
    return anchors, tuple(
        (TYPE_NAMES[c], n) for c, n in zip(codes.tolist(), counts.tolist(), strict=True)
    )


def reasons_for(
    scorer: Scorer,
    item: int,
    cf: float,
    content: float,
    boosted: bool,
    own: CustomerProducts,
    cf_contribution: np.ndarray | None,
    content_contribution: np.ndarray | None,
) -> tuple[Reason, ...]:
    """Reasons for catalog index `item`, strongest first, each explaining >= 1% of its score.

    cf / content: the customer's normalised model scores of the item; *_contribution (p,): the
    part of the item's model score due to each of the customer's products, or None.
    """
    bw = scorer.blend
    st = scorer.state
    parts: list[Reason] = []
    trend = float(scorer.trend_part[item])
    base = bw.cf * cf + bw.content * content + trend
    total = base * (1.0 + st.config.category_boost) if boosted else base
    if bw.cf * cf > 0 and scorer.cf is not None:
        anchors, counts = _evidence(scorer, own, cf_contribution)
        parts.append(Reason(scorer.cf.reason_kind, bw.cf * cf, anchors, counts))
    if bw.content * content > 0 and scorer.content is not None:
        anchors, counts = _evidence(scorer, own, content_contribution)
        parts.append(Reason(scorer.content.reason_kind, bw.content * content, anchors, counts))
    if trend > 0:
        fresh = bw.newness * scorer.new[item] > bw.popularity * scorer.pop[item]
        parts.append(Reason("TRENDING", trend, new_arrival=bool(fresh)))
    if boosted:
        category = str(st.catalog.categories[item])
        parts.append(Reason("PREFERRED_CATEGORY", total - base, category=category))
    if total <= 0 or not parts:
        return (TRENDING,)
    parts.sort(key=lambda r: -r.weight)
    kept = tuple(
        Reason(
            r.kind, float(r.weight / total), r.anchors, r.anchor_counts, r.category, r.new_arrival
        )
        for r in parts
        if r.weight / total >= 0.01
    )
    if kept:
        return kept
    first = parts[0]
    return (
        Reason(
            first.kind, 1.0, first.anchors, first.anchor_counts, first.category, first.new_arrival
        ),
    )
