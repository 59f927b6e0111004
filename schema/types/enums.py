"""GraphQL enums over the application's own enums (one definition each)."""

import strawberry

from app.models import InteractionType, Role
from engine.events import EVENT_TYPES

strawberry.enum(Role, name="Role", description="What a user may do.")
strawberry.enum(
    InteractionType,
    name="InteractionType",
    description="A customer event; its weight for the recommender is "
    + ", ".join(f"{t.name.upper()} {t.weight:g}" for t in EVENT_TYPES)
    + ".",
)

__all__ = ["InteractionType", "Role"]
