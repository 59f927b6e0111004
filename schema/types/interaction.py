"""The Interaction type: one event of the append-only log."""

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from schema.context import Context
from schema.types.common import resolve_keyed_nodes
from schema.types.enums import InteractionType

if TYPE_CHECKING:
    from app import models
    from schema.types.product import Product
    from schema.types.user import User


@strawberry.type(description="One customer event: a view, click, cart add or purchase.")
class Interaction(relay.Node):
    id: relay.NodeID[int]
    type: InteractionType
    quantity: int = strawberry.field(description="Units; 1 for views and clicks.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    product_id: strawberry.Private[int]
    user_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: "models.Interaction") -> "Interaction":
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

    @strawberry.field(description="The customer who did it.")
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
