"""Reason sentences are written by the app from the engine's evidence, with true counts."""

import pytest

from app.services.explanations import ReasonFacts, template_explanation
from app.services.reasons import describe, served_reason
from engine.reasons import Anchor, Reason
from tests.test_explanations import request_for


def similar(*anchors: tuple[str, str], counts: dict[str, int]) -> Reason:
    return Reason(
        "SIMILAR_TO_PURCHASED",
        0.8,
        tuple(Anchor(pid, event) for pid, event in anchors),
        tuple(counts.items()),
    )


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (
            similar(
                ("A", "purchase"),
                ("B", "purchase"),
                ("C", "view"),
                counts={"view": 3, "purchase": 3},
            ),
            "Similar to Mug A and 2 other products you bought, and 3 you viewed",
        ),
        (
            similar(("A", "view"), counts={"view": 3, "purchase": 3}),
            "Similar to Mug A and 2 other products you viewed, and 3 you bought",
        ),
        (similar(("A", "purchase"), counts={"purchase": 1}), "Similar to Mug A, which you bought"),
        (
            similar(("A", "cart_add"), ("B", "view"), counts={"view": 1, "cart_add": 1}),
            "Similar to Mug A, which you added to your cart, and 1 you viewed",
        ),
        (
            similar(("A", "click"), ("B", "view"), counts={"view": 1, "click": 1}),
            "Similar to Mug A and 1 other product you viewed",
        ),
        (Reason("TRENDING", 1.0), "Popular in the shop right now"),
        (Reason("TRENDING", 1.0, new_arrival=True), "New in the shop and selling"),
        (
            Reason("PREFERRED_CATEGORY", 0.2, category="Mugs"),
            "From Mugs, one of your favourite categories",
        ),
        (Reason("SIMILAR_CUSTOMERS", 0.5), "Customers with similar purchases bought this"),
    ],
)
def test_describe_counts_each_product_under_its_event(reason: Reason, expected: str) -> None:
    names = [f"Mug {a.product_id}" for a in reason.anchors]
    assert describe(reason, names) == expected


def test_content_match_reads_matches() -> None:
    reason = Reason("CONTENT_MATCH", 0.3, (Anchor("A", "view"),), (("view", 1),))
    assert describe(reason, ["Blue Mug"]) == "Matches Blue Mug, which you viewed"


def test_served_reason_drops_unknown_anchors_and_keeps_events_aligned() -> None:
    reason = similar(
        ("A", "purchase"), ("GONE", "view"), ("C", "view"), counts={"view": 2, "purchase": 1}
    )
    served = served_reason(reason, ["a", "gone", "c"], {"A": 1, "C": 3}.get)
    assert served.product_ids == (1, 3)
    assert served.product_events == ("purchase", "view")
    assert served.detail == "Similar to a, which you bought, and 2 you viewed"


def test_template_says_viewed_for_viewed_products() -> None:
    request = request_for(
        reasons=(
            ReasonFacts(
                "SIMILAR_TO_PURCHASED",
                0.9,
                ("RED MUG", "BLUE MUG"),
                None,
                "",
                ("purchase", "view"),
            ),
        ),
        category=None,
    )
    assert template_explanation(request) == (
        "Because you bought RED MUG and viewed BLUE MUG, we think you'll like this."
    )
