"""Closed sets of values the database stores and the API shows; free of SQLAlchemy, so the
schema can use them without the ORM."""

from enum import StrEnum

from engine.events import EVENT_TYPES, EventType

InteractionType = StrEnum(  # type: ignore[misc]
    "InteractionType", {event.name.upper(): event.name for event in EVENT_TYPES}
)
"""The stored event types: one member per entry of engine.events.EVENT_TYPES, in its order."""


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"
    VISITOR = "visitor"
    """A visitor not signed in: may record events and read their own recommendations."""


__all__ = ["EVENT_TYPES", "EventType", "InteractionType", "Role"]
