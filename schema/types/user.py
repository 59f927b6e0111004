"""The User type (a customer or an admin) and its connections."""

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from app.errors import ErrorCode, ServiceError
from schema.context import Context
from schema.types.common import connection_from_page, decode_cursor, resolve_keyed_nodes
from schema.types.enums import InteractionType, Role

if TYPE_CHECKING:
    from app import models
    from schema.types.interaction import InteractionConnection


@strawberry.type(
    description="A customer of the shop, an admin, or a visitor (not signed in, see "
    "`startVisit`). Visible to itself and to admins."
)
class User(relay.Node):
    id: relay.NodeID[int]
    username: str | None = strawberry.field(description="Null for visitors.")
    email: str | None = strawberry.field(
        description="Null for customers imported from the shop, and for visitors."
    )
    role: Role
    external_id: str | None = strawberry.field(
        description="The shop's own customer id, for customers that came from an import."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, row: "models.User") -> "User":
        return cls(
            id=row.id,
            username=row.username,
            email=row.email,
            role=Role(row.role),
            external_id=row.external_id,
            created_at=row.created_at,
        )

    @classmethod
    async def resolve_nodes(
        cls,
        *,
        info: strawberry.Info[Context, None],
        node_ids: Iterable[str],
        required: bool = False,
    ) -> list["User | None"]:

        async def load(ids: list[int]) -> list["models.User | None"]:
            for user_id in ids:
                if not info.context.may_read_user(user_id):
                    info.context.require_viewer()
                    raise ServiceError(ErrorCode.FORBIDDEN, "You may only read your own account")
            return await info.context.loaders.user.load_many(ids)

        return await resolve_keyed_nodes(node_ids, load, cls.from_row)

    @strawberry.field(description="The user's events, newest first.")
    async def interactions(
        self,
        info: strawberry.Info[Context, None],
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="`endCursor` of the previous page.")
        ] = None,
        type: Annotated[
            InteractionType | None, strawberry.argument(description="Only events of this type.")
        ] = None,
    ) -> Annotated["InteractionConnection", strawberry.lazy("schema.types.interaction")]:
        from schema.types.interaction import Interaction, InteractionConnection

        before_id = decode_cursor("interaction", after)
        page = await info.context.services.events.history(self.id, first, before_id, type)
        return connection_from_page(
            InteractionConnection, "interaction", page, Interaction.from_row, after
        )


@strawberry.type(name="UserConnection", description="A page of users.")
class UserConnection(relay.Connection[User]):
    pass
