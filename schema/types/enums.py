"""GraphQL enums over the application's own enums (one definition each)."""

import strawberry

from app.enums import InteractionType, Role

strawberry.enum(Role, name="Role", description="What a user may do.")
strawberry.enum(
    InteractionType,
    name="InteractionType",
    description="A customer event; its weight for the recommender is VIEW 1, CLICK 2, "
    "CART_ADD 3, PURCHASE 5.",
)

__all__ = ["InteractionType", "Role"]
