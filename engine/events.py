"""The one vocabulary of event types: names, codes and default weights.

Everything else follows from EVENT_TYPES: the engine's codes and weights, the database enum and
CHECK constraint (app/models.py), and the GraphQL `InteractionType` enum (schema/types/enums.py).
Adding a type means one entry here plus a migration of the CHECK constraint.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    """One kind of customer event.

    name: the stored value (lower snake case); code: 1.. by increasing commitment, so a customer's
    strongest tie to a product is the highest code among their events for it; weight: default
    strength of one event in a customer's profile (a purchase is the unit of a full profile entry).
    """

    name: str
    code: int
    weight: float
    description: str


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("view", 1, 1.0, "The customer looked at a product page."),
    EventType("click", 2, 2.0, "The customer clicked a product in a list or recommendation."),
    EventType("cart_add", 3, 3.0, "The customer added a product to the cart."),
    EventType("purchase", 4, 5.0, "The customer bought a product."),
)
EVENT_WEIGHTS: dict[str, float] = {t.name: t.weight for t in EVENT_TYPES}
TYPE_CODES: dict[str, int] = {t.name: t.code for t in EVENT_TYPES}
TYPE_NAMES: dict[int, str] = {t.code: t.name for t in EVENT_TYPES}
PURCHASE = "purchase"
FULL_WEIGHT: float = EVENT_WEIGHTS[PURCHASE]
