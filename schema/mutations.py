"""Root mutation fields. Expected failures come back as typed `errors` in the payload."""

import dataclasses
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.services.catalog import ProductInput as ProductValues
from app.services.events import (
    MAX_BATCH,
    BatchResult,
    EventError,
    EventInput,
    RecordedEvent,
    StoredEvent,
)
from app.services.users import SignedIn
from schema.context import Context
from schema.types.common import UserError, decode_id, node_key, payload_or_errors
from schema.types.enums import ErrorCode, InteractionType
from schema.types.interaction import (
    Interaction,
    InteractionError,
    InteractionInput,
    RecordedInteraction,
)
from schema.types.product import Product
from schema.types.user import User

if TYPE_CHECKING:
    from app import models

Info = strawberry.Info[Context, None]


@strawberry.type(description="The result of `register` or `login`.")
class AuthPayload:
    token: str | None = strawberry.field(
        default=None,
        description="JWT bearer token: send it as `Authorization: Bearer <token>`.",
    )
    user: User | None = None
    merged_events: int = strawberry.field(
        default=0,
        description="Events of the visit (sent with a visitor token) that moved to this "
        "account; 0 without a visit.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def signed_in(cls, signed_in: SignedIn) -> "AuthPayload":
        return cls(
            token=signed_in.token,
            user=User.from_row(signed_in.user),
            merged_events=signed_in.merged_events,
        )


@strawberry.type(description="The result of `startVisit`.")
class StartVisitPayload:
    token: str | None = strawberry.field(
        default=None,
        description="The visitor's JWT bearer token (role VISITOR, valid 30 days by default): "
        "send it as `Authorization: Bearer <token>` to record events and read recommendations, "
        "and with `register` or `login` to move the visit's events to the account.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def started(cls, signed_in: SignedIn) -> "StartVisitPayload":
        return cls(token=signed_in.token)


def _recorded_interactions(root: "RecordInteractionsPayload") -> list[RecordedInteraction]:
    """A payload's `results`, made only when selected (a batch has up to 500)."""
    return [
        RecordedInteraction(
            index=item.index,
            client_event_id=item.interaction.client_event_id,
            new=item.new,
            row=item.interaction,
        )
        for item in root.recorded
    ]


@strawberry.type(
    description="The result of `recordInteractions`: one entry in `results` or in `errors` per "
    "event sent. The valid events are stored even when others of the batch are refused."
)
class RecordInteractionsPayload:
    results: list[RecordedInteraction] = strawberry.field(
        resolver=_recorded_interactions,
        description="The stored events (durable), in `index` order; `new` tells stored now "
        "from stored by an earlier call with the same `clientEventId`.",
    )
    errors: list[InteractionError] = strawberry.field(
        default_factory=list,
        description="The refused events, in `index` order; nothing of them was stored.",
    )
    stored: int = strawberry.field(
        default=0, description="How many events this call stored (`new: true`)."
    )
    recorded: strawberry.Private[list[RecordedEvent]] = dataclasses.field(default_factory=list)

    @classmethod
    def from_result(cls, result: BatchResult) -> "RecordInteractionsPayload":
        return cls(
            recorded=result.recorded,
            errors=[_interaction_error(item) for item in result.errors],
            stored=sum(item.new for item in result.recorded),
        )

    @classmethod
    def refused(cls, errors: list[UserError]) -> "RecordInteractionsPayload":
        """The whole call refused (`index` null)."""
        return cls(
            errors=[
                InteractionError(index=None, field=e.field, message=e.message, code=e.code)
                for e in errors
            ],
        )


def _interaction_error(item: EventError) -> InteractionError:
    error = item.error
    return InteractionError(
        index=item.index if item.index >= 0 else None,
        field=error.field,
        message=error.message,
        code=ErrorCode(error.code.value),
    )


@strawberry.type(description="The result of `recordInteraction`.")
class RecordInteractionPayload:
    interaction: Interaction | None = strawberry.field(
        default=None, description="The stored event; when present, it is durable."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def recorded(cls, row: StoredEvent) -> "RecordInteractionPayload":
        return cls(interaction=Interaction.from_row(row))


@strawberry.type(description="The result of a product mutation.")
class ProductPayload:
    product: Product | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def changed(cls, row: "models.Product") -> "ProductPayload":
        return cls(product=Product.from_row(row))


@strawberry.input(description="A new product.")
class CreateProductInput:
    sku: str
    name: str
    price: float
    description: str = ""
    category: str | None = None
    image_url: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Changes to a product; omitted fields stay as they are.")
class UpdateProductInput:
    sku: str | None = None
    name: str | None = None
    price: float | None = None
    description: str | None = None
    category: str | None = None
    image_url: str | None = None
    tags: list[str] | None = None


def _values(data: CreateProductInput | UpdateProductInput) -> ProductValues:
    return ProductValues(
        sku=data.sku,
        name=data.name,
        description=data.description,
        category=data.category,
        price=data.price,
        image_url=data.image_url,
        tags=data.tags,
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Create a customer account (password of at least 10 characters) and sign "
        "in. Sent with a visitor's token (`startVisit`) as bearer token, the visit's events "
        "move to the new account in the same transaction and the visitor token stops working."
    )
    async def register(self, info: Info, username: str, email: str, password: str) -> AuthPayload:
        users = info.context.services.users
        visit = info.context.visit
        return await payload_or_errors(
            AuthPayload,
            lambda: users.register(username, email, password, visit=visit),
            AuthPayload.signed_in,
        )

    @strawberry.mutation(
        description="Sign in; returns a bearer token. Sent with a visitor's token as bearer "
        "token, the visit's events move to the account (duplicates by `clientEventId` are "
        "dropped) and count in its recommendations at once; the visitor token stops working."
    )
    async def login(self, info: Info, username: str, password: str) -> AuthPayload:
        users = info.context.services.users
        visit = info.context.visit
        return await payload_or_errors(
            AuthPayload, lambda: users.login(username, password, visit), AuthPayload.signed_in
        )

    @strawberry.mutation(
        description="Start a visit for someone not signed in: returns a visitor token that may "
        "record events (`recordInteraction`, `recordInteractions`) and read `recommendations` "
        "made from the visit's events (trending products until there are some). Visitors see "
        "only their own data, have no username or password (so cannot `login`) and are billed "
        "by IP address for rate limits. Register or sign in with the visitor token to keep "
        "the visit's events."
    )
    async def start_visit(self, info: Info) -> StartVisitPayload:
        users = info.context.services.users
        return await payload_or_errors(
            StartVisitPayload, users.start_visit, StartVisitPayload.started
        )

    @strawberry.mutation(
        description="Record an event of the signed-in customer or visitor; it is durable when "
        "this returns. It changes their next recommendations at once (a purchased product "
        "leaves the list)."
    )
    async def record_interaction(
        self,
        info: Info,
        product_id: strawberry.ID,
        type: InteractionType,
        quantity: Annotated[int, strawberry.argument(description="Units, 1 to 10000.")] = 1,
        client_event_id: Annotated[
            str | None,
            strawberry.argument(
                description="Optional idempotency key (1 to 64 characters, unique per customer "
                "or visitor): a retry with the same key returns the stored event."
            ),
        ] = None,
    ) -> RecordInteractionPayload:
        viewer = info.context.require_viewer()
        events = info.context.services.events
        return await payload_or_errors(
            RecordInteractionPayload,
            lambda: events.record(
                viewer.user_id,
                decode_id(product_id, "Product", "productId"),
                type,
                quantity,
                client_event_id,
            ),
            RecordInteractionPayload.recorded,
        )

    @strawberry.mutation(
        description=f"Record up to {MAX_BATCH} events of the signed-in customer or visitor in "
        "one call (mobile clients sending what they buffered). The valid events are stored in "
        "one transaction and are durable when this returns, even when other events of the same "
        "batch are refused: each refused event comes back in `errors` with its index and field. "
        "Retrying a batch is safe: an event whose `clientEventId` is already stored is not "
        f"stored again (`new: false`). More than {MAX_BATCH} events refuse the whole call; so "
        "does an event that does not fit `InteractionInput` (an unknown `type`, a missing "
        "field) or a NUL character anywhere: nothing runs, and the error's `extensions.field` "
        "names the event, e.g. `$events[3].type`. "
        "Costs 10 points plus 1 per event (plus 1 per event when selecting "
        "`results.interaction`)."
    )
    async def record_interactions(
        self, info: Info, events: list[InteractionInput]
    ) -> RecordInteractionsPayload:
        viewer = info.context.require_viewer()
        service = info.context.services.events
        inputs = [
            EventInput(
                product_id=node_key(str(event.product_id), "Product"),
                type=event.type,
                quantity=event.quantity,
                occurred_at=event.occurred_at,
                client_event_id=event.client_event_id,
            )
            for event in events
        ]
        return await payload_or_errors(
            RecordInteractionsPayload.refused,
            lambda: service.record_batch(viewer.user_id, inputs),
            RecordInteractionsPayload.from_result,
        )

    @strawberry.mutation(description="Add a product to the catalog. Admins only.")
    async def create_product(self, info: Info, input: CreateProductInput) -> ProductPayload:
        info.context.require_admin()
        catalog = info.context.services.catalog
        return await payload_or_errors(
            ProductPayload, lambda: catalog.create_product(_values(input)), ProductPayload.changed
        )

    @strawberry.mutation(description="Change a product. Admins only.")
    async def update_product(
        self, info: Info, id: strawberry.ID, input: UpdateProductInput
    ) -> ProductPayload:
        info.context.require_admin()
        catalog = info.context.services.catalog
        return await payload_or_errors(
            ProductPayload,
            lambda: catalog.update_product(decode_id(id, "Product"), _values(input)),
            ProductPayload.changed,
        )

    @strawberry.mutation(
        description="Archive a product: it leaves the catalog and recommendations; "
        "customers' histories keep it. Admins only."
    )
    async def delete_product(self, info: Info, id: strawberry.ID) -> ProductPayload:
        info.context.require_admin()
        catalog = info.context.services.catalog
        return await payload_or_errors(
            ProductPayload,
            lambda: catalog.delete_product(decode_id(id, "Product")),
            ProductPayload.changed,
        )
