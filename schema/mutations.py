"""Root mutation fields. Expected failures come back as typed `errors` in the payload."""

from typing import Annotated

import strawberry

from app.errors import ServiceError
from app.services.catalog import ProductInput as ProductValues
from schema.context import Context
from schema.types.common import UserError, decode_id
from schema.types.enums import InteractionType
from schema.types.interaction import Interaction
from schema.types.product import Product
from schema.types.user import User

Info = strawberry.Info[Context, None]


@strawberry.type(description="The result of `register` or `login`.")
class AuthPayload:
    token: str | None = strawberry.field(
        description="JWT bearer token: send it as `Authorization: Bearer <token>`."
    )
    user: User | None
    errors: list[UserError]


@strawberry.type(description="The result of `recordInteraction`.")
class RecordInteractionPayload:
    interaction: Interaction | None = strawberry.field(
        description="The stored event; when present, it is durable."
    )
    errors: list[UserError]


@strawberry.type(description="The result of a product mutation.")
class ProductPayload:
    product: Product | None
    errors: list[UserError]


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
        try:
            signed_in = await info.context.services.users.register(username, email, password)
        except ServiceError as error:
            return AuthPayload(token=None, user=None, errors=[UserError.from_service_error(error)])
        return AuthPayload(token=signed_in.token, user=User.from_row(signed_in.user), errors=[])

    @strawberry.mutation(description="Sign in; returns a bearer token.")
    async def login(self, info: Info, username: str, password: str) -> AuthPayload:
        try:
            signed_in = await info.context.services.users.login(username, password)
        except ServiceError as error:
            return AuthPayload(token=None, user=None, errors=[UserError.from_service_error(error)])
        return AuthPayload(token=signed_in.token, user=User.from_row(signed_in.user), errors=[])

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
        try:
            row = await info.context.services.events.record(
                viewer.user_id, decode_id(product_id, "Product", "productId"), type, quantity
            )
        except ServiceError as error:
            return RecordInteractionPayload(
                interaction=None, errors=[UserError.from_service_error(error)]
            )
        return RecordInteractionPayload(interaction=Interaction.from_row(row), errors=[])

    @strawberry.mutation(description="Add a product to the catalog. Admins only.")
    async def create_product(self, info: Info, input: CreateProductInput) -> ProductPayload:
        info.context.require_admin()
        try:
            row = await info.context.services.catalog.create_product(_values(input))
        except ServiceError as error:
            return ProductPayload(product=None, errors=[UserError.from_service_error(error)])
        return ProductPayload(product=Product.from_row(row), errors=[])

    @strawberry.mutation(description="Change a product. Admins only.")
    async def update_product(
        self, info: Info, id: strawberry.ID, input: UpdateProductInput
    ) -> ProductPayload:
        info.context.require_admin()
        try:
            row = await info.context.services.catalog.update_product(
                decode_id(id, "Product"), _values(input)
            )
        except ServiceError as error:
            return ProductPayload(product=None, errors=[UserError.from_service_error(error)])
        return ProductPayload(product=Product.from_row(row), errors=[])

    @strawberry.mutation(
        description="Archive a product: it leaves the catalog and recommendations; "
        "customers' histories keep it. Admins only."
    )
    async def delete_product(self, info: Info, id: strawberry.ID) -> ProductPayload:
        info.context.require_admin()
        try:
            row = await info.context.services.catalog.delete_product(decode_id(id, "Product"))
        except ServiceError as error:
            return ProductPayload(product=None, errors=[UserError.from_service_error(error)])
        return ProductPayload(product=Product.from_row(row), errors=[])
