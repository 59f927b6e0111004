"""The words for the engine's structured reasons, and reasons as the API serves them.

The engine says which of the customer's products stand behind a reason and how each is tied to
the customer (bought, added to the cart, viewed); this module writes the sentence, so every count
in it is true: bought products are counted as bought, viewed ones as viewed.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.events import EVENT_TYPES
from engine.reasons import Reason

VERBS: dict[str, str] = {
    "view": "viewed",
    "click": "viewed",
    "cart_add": "added to your cart",
    "purchase": "bought",
}
LEADS: dict[str, str] = {"SIMILAR_TO_PURCHASED": "Similar to", "CONTENT_MATCH": "Matches"}
_ORDER = {t.name: t.code for t in EVENT_TYPES}


@dataclass(frozen=True)
class ServedReason:
    """A reason with its anchor products as database ids (strongest first, at most 3).

    product_events: each anchor's event type name, aligned with product_ids; detail: the
    sentence for people.
    """

    kind: str
    weight: float
    detail: str
    category: str | None
    product_ids: tuple[int, ...]
    product_events: tuple[str, ...] = ()


def verb(event: str) -> str:
    """How a product is tied to the customer, as a past-tense phrase ("bought", "viewed")."""
    return VERBS.get(event, "chose")


def describe(reason: Reason, names: Sequence[str]) -> str:
    """One sentence for `reason`; names are its anchors' product names, aligned with anchors."""
    if reason.kind == "TRENDING":
        return (
            "New in the shop and selling" if reason.new_arrival else "Popular in the shop right now"
        )
    if reason.kind == "PREFERRED_CATEGORY":
        return f"From {reason.category}, one of your favourite categories"
    if reason.kind == "SIMILAR_CUSTOMERS" or not reason.anchors:
        return "Customers with similar purchases bought this"
    first = reason.anchors[0]
    lead = LEADS.get(reason.kind, "Goes with")
    first_verb = verb(first.event)
    by_verb: Counter[str] = Counter()
    for event, count in sorted(reason.anchor_counts, key=lambda pair: -_ORDER.get(pair[0], 0)):
        by_verb[verb(event)] += count
    others = max(by_verb.pop(first_verb, 1) - 1, 0)
    text = f"{lead} {names[0] or first.product_id}"
    if others:
        text += f" and {others} other product{'s' if others > 1 else ''} you {first_verb}"
    else:
        text += f", which you {first_verb}"
    rest = [f"{count} you {phrase}" for phrase, count in by_verb.items() if count]
    return text + (", and " + " and ".join(rest) if rest else "")


def served_reason(
    reason: Reason,
    names: Sequence[str],
    db_id: Callable[[str], int | None],
) -> ServedReason:
    """`reason` as served: anchors mapped to database ids by `db_id` (unknown ones dropped)."""
    pairs = [
        (pid, anchor.event)
        for anchor in reason.anchors
        if (pid := db_id(anchor.product_id)) is not None
    ]
    return ServedReason(
        kind=reason.kind,
        weight=float(reason.weight),
        detail=describe(reason, names),
        category=reason.category,
        product_ids=tuple(pid for pid, _ in pairs),
        product_events=tuple(event for _, event in pairs),
    )
