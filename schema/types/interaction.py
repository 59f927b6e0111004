"""The Interaction type: one event of the append-only log."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.types.arguments import InputContext

from schema.context import Context
from schema.types.common import resolve_keyed_nodes
from schema.types.enums import ErrorCode, InteractionType

if TYPE_CHECKING:
    from app import models
    from app.services.events import StoredEvent
    from schema.types.product import Product
    from schema.types.user import User


@strawberry.type(
    description="One event of a customer or visitor: a view, click, cart add or purchase."
)
class Interaction(relay.Node):
    id: relay.NodeID[int]
    type: InteractionType
    quantity: int = strawberry.field(description="Units; 1 for views and clicks.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    product_id: strawberry.Private[int]
    user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: "models.Interaction | StoredEvent") -> "Interaction":
        return cls(
            id=row.id,
            type=InteractionType(row.type),
            quantity=row.quantity,
            occurred_at=row.occurred_at,
            product_id=row.product_id,
            user_id=row.user_id,
        )

    @classmethod
    async def resolve_nodes(
        cls,
        *,
        info: strawberry.Info[Context, None],
        node_ids: Iterable[str],
        required: bool = False,
    ) -> list["Interaction | None"]:
        """Only the viewer's own events (any event for admins); others resolve to null."""
        info.context.require_viewer()

        def build(row: "models.Interaction") -> "Interaction | None":
            return cls.from_row(row) if info.context.may_read_user(row.user_id) else None

        loader = info.context.loaders.interaction
        return await resolve_keyed_nodes(node_ids, loader.load_many, build)

    @strawberry.field(description="The product; also shown when it has since been archived.")
    async def product(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated["Product", strawberry.lazy("schema.types.product")]:
        from schema.types.product import Product

        row = await info.context.loaders.product.load(self.product_id)
        assert row is not None
        return Product.from_row(row)

    @strawberry.field(description="The customer (or visitor) who did it.")
    async def user(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated["User", strawberry.lazy("schema.types.user")]:
        from schema.types.user import User

        row = await info.context.loaders.user.load(self.user_id)
        assert row is not None
        return User.from_row(row)


@strawberry.type(name="InteractionConnection", description="A page of events, newest first.")
class InteractionConnection(relay.Connection[Interaction]):
    pass


@strawberry.input(
    description="One event of a `recordInteractions` batch, as the client saw it happen."
)
class InteractionInput:
    product_id: strawberry.ID = strawberry.field(description="The product's global id.")
    type: InteractionType
    client_event_id: str = strawberry.field(
        description="The client's idempotency key for this event, 1 to 64 characters, unique "
        "per customer or visitor (a UUID is a good choice). Sending an event again with the "
        "same key stores nothing new: the result reports `new: false` and the stored event."
    )
    quantity: int = strawberry.field(default=1, description="Units, 1 to 10000.")
    occurred_at: datetime | None = strawberry.field(
        default=None,
        description="When it happened by the client's clock (UTC when no offset is given); "
        "null for now. Refused when more than 5 minutes in the future or older than "
        "`EVENT_MAX_AGE_DAYS` (30 by default).",
    )


def _interaction_input(
    cls: type[InteractionInput], value: Mapping[str, Any], _: InputContext
) -> InteractionInput:
    """Build one batch event from graphql-core's coerced input (keyed by GraphQL names; the
    enum and DateTime already parsed, defaults filled in). Strawberry's generic conversion
    resolves every field's type and name again for each of a batch's up to 500 events, which
    was the largest cost of `recordInteractions`."""
    return cls(
        product_id=value["productId"],
        type=value["type"],
        client_event_id=value["clientEventId"],
        quantity=value["quantity"],
        occurred_at=value.get("occurredAt"),
    )


InteractionInput.__strawberry_definition__.from_input = _interaction_input  # type: ignore[attr-defined]


@strawberry.type(description="An event of a batch that is stored (now or by an earlier call).")
class RecordedInteraction:
    index: int = strawberry.field(description="Its position in `events`, from 0.")
    client_event_id: str | None = strawberry.field(description="The key it was sent with.")
    new: bool = strawberry.field(
        description="True when this call stored it; false when its `clientEventId` was "
        "already stored (a retried batch)."
    )
    row: strawberry.Private["StoredEvent"]

    @strawberry.field(description="The stored event.")
    def interaction(self) -> Interaction:
        """Made only when selected: a batch has up to 500 of them."""
        return Interaction.from_row(self.row)


@strawberry.type(
    description="Why one event of a batch was refused; the batch's other events are not "
    "affected by it."
)
class InteractionError:
    index: int | None = strawberry.field(
        description="The event's position in `events`, from 0; null when the whole call was "
        "refused (e.g. more than 500 events)."
    )
    field: str | None = strawberry.field(
        description="The input at fault, with its index: `events[3].quantity`."
    )
    message: str = strawberry.field(description="What went wrong, for people.")
    code: ErrorCode = strawberry.field(description="What kind of problem, for programs.")
