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


Evidence = tuple[tuple[Anchor, ...], tuple[tuple[str, int], ...]]
NO_EVIDENCE: Evidence = ((), ())


def evidence(
    scorer: Scorer, own: CustomerProducts, contributions: np.ndarray | None, targets: int
) -> list[Evidence]:
    """Per target, the anchors and per-type counts of the customer's products with a positive
    contribution: contributions (p x targets, `ScoringModel.contributions`) or None. Anchors:
    the largest contributions, ties by catalog index; all targets in one sort."""
    if contributions is None or len(own.items) == 0:
        return [NO_EVIDENCE] * targets
    good = contributions > 0
    items = np.broadcast_to(own.items[:, None], contributions.shape)
    top = np.lexsort((items, -contributions), axis=0)[:MAX_ANCHORS]
    shown = np.minimum(good.sum(0), MAX_ANCHORS).tolist()
    names = [TYPE_NAMES.get(c, "") for c in range(max(TYPE_NAMES) + 1)]
    counts = good.T.astype(np.int64) @ (own.codes[:, None] == np.arange(len(names)))
    pids = scorer.state.catalog.product_ids
    out: list[Evidence] = []
    for t, n in enumerate(shown):
        picked = top[:n, t].tolist()
        out.append(
            (
                tuple(Anchor(str(pids[own.items[j]]), names[own.codes[j]]) for j in picked),
                tuple((names[c], int(k)) for c, k in enumerate(counts[t].tolist()) if k),
            )
            if n
            else NO_EVIDENCE
        )
    return out


def reasons_for(
    scorer: Scorer,
    item: int,
    cf: float,
    content: float,
    boosted: bool,
    cf_evidence: Evidence,
    content_evidence: Evidence,
) -> tuple[Reason, ...]:
    """Reasons for catalog index `item`, strongest first, each explaining >= 1% of its score.

    cf / content: the customer's normalised model scores of the item; *_evidence: the
    customer's products behind each (`evidence`).
    """
    bw = scorer.blend
    st = scorer.state
    parts: list[Reason] = []
    trend = float(scorer.trend_part[item])
    base = bw.cf * cf + bw.content * content + trend
    total = base * (1.0 + st.config.category_boost) if boosted else base
    if bw.cf * cf > 0 and scorer.cf is not None:
        anchors, counts = cf_evidence
        parts.append(Reason(scorer.cf.reason_kind, bw.cf * cf, anchors, counts))
    if bw.content * content > 0 and scorer.content is not None:
        anchors, counts = content_evidence
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
