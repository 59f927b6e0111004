"""Root mutation fields. Expected failures come back as typed `errors` in the payload."""

from typing import TYPE_CHECKING, Annotated

import strawberry

from app.services.catalog import ProductInput as ProductValues
from app.services.users import SignedIn
from schema.context import Context
from schema.types.common import UserError, decode_id, payload_or_errors
from schema.types.enums import InteractionType
from schema.types.interaction import Interaction
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
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def signed_in(cls, signed_in: SignedIn) -> "AuthPayload":
        return cls(token=signed_in.token, user=User.from_row(signed_in.user))


@strawberry.type(description="The result of `recordInteraction`.")
class RecordInteractionPayload:
    interaction: Interaction | None = strawberry.field(
        default=None, description="The stored event; when present, it is durable."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def recorded(cls, row: "models.Interaction") -> "RecordInteractionPayload":
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
        description="Create a customer account (password of at least 10 characters) and sign in."
    )
    async def register(self, info: Info, username: str, email: str, password: str) -> AuthPayload:
        users = info.context.services.users
        return await payload_or_errors(
            AuthPayload, lambda: users.register(username, email, password), AuthPayload.signed_in
        )

    @strawberry.mutation(description="Sign in; returns a bearer token.")
    async def login(self, info: Info, username: str, password: str) -> AuthPayload:
        users = info.context.services.users
        return await payload_or_errors(
            AuthPayload, lambda: users.login(username, password), AuthPayload.signed_in
        )

    @strawberry.mutation(
        description="Record an event of the signed-in customer. It changes their next "
        "recommendations at once (a purchased product leaves the list)."
    )
    async def record_interaction(
        self,
        info: Info,
        product_id: strawberry.ID,
        type: InteractionType,
        quantity: Annotated[int, strawberry.argument(description="Units, at least 1.")] = 1,
    ) -> RecordInteractionPayload:
        viewer = info.context.require_viewer()
        events = info.context.services.events
        return await payload_or_errors(
            RecordInteractionPayload,
            lambda: events.record(
                viewer.user_id, decode_id(product_id, "Product", "productId"), type, quantity
            ),
            RecordInteractionPayload.recorded,
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
