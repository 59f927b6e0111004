"""The Product type and its connection."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from app.services.catalog import ProductFilter
from schema.context import Context
from schema.types.common import resolve_keyed_nodes

if TYPE_CHECKING:
    from app import models


@strawberry.type(description="A product of the shop's catalog.")
class Product(relay.Node):
    id: relay.NodeID[int]
    sku: str = strawberry.field(description="The shop's own product id, unique, e.g. `85123A`.")
    name: str
    description: str = strawberry.field(description="Free text; empty when the shop gave none.")
    category: str | None = strawberry.field(description="One category name, or null.")
    price: float = strawberry.field(description="Unit price in the shop's currency, 2 decimals.")
    image_url: str | None = strawberry.field(description="Absolute URL of the product image.")
    tags: list[str] = strawberry.field(description="The shop's tags, in the shop's order.")
    created_at: datetime = strawberry.field(
        description="When the product entered the catalog (UTC)."
    )

    @classmethod
    def from_row(cls, row: "models.Product") -> "Product":
        return cls(
            id=row.id,
            sku=row.sku,
            name=row.name,
            description=row.description,
            category=row.category,
            price=float(row.price),
            image_url=row.image_url,
            tags=list(row.tags or []),
            created_at=row.created_at,
        )

    @classmethod
    def from_live_row(cls, row: "models.Product") -> "Product | None":
        """The product, or None when it is archived."""
        return cls.from_row(row) if row.deleted_at is None else None

    @classmethod
    async def resolve_nodes(
        cls,
        *,
        info: strawberry.Info[Context, None],
        node_ids: Iterable[str],
        required: bool = False,
    ) -> list["Product | None"]:
        return await resolve_keyed_nodes(
            node_ids, info.context.loaders.product.load_many, cls.from_live_row
        )

    @strawberry.field(description="How many times customers bought this product.")
    async def purchase_count(self, info: strawberry.Info[Context, None]) -> int:
        return await info.context.loaders.purchase_count.load(self.id)

    @strawberry.field(
        description="Products customers choose together with this one, most similar first; "
        "products without events are matched by their text. Until the first model is "
        "published, the most popular other products."
    )
    async def similar(
        self,
        info: strawberry.Info[Context, None],
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
    ) -> list["Product"]:
        ids = await info.context.services.recommendations.similar(self.id, self.sku, first)
        return await products_by_ids(info, ids)


async def products_by_ids(
    info: strawberry.Info[Context, None], ids: Sequence[int]
) -> list[Product]:
    """Live products for `ids`, in order, through the per-request loader."""
    rows = await info.context.loaders.product.load_many(list(ids))
    return [Product.from_row(row) for row in rows if row is not None and row.deleted_at is None]


@strawberry.type(name="ProductConnection", description="A page of products.")
class ProductConnection(relay.Connection[Product]):
    product_filter: strawberry.Private[ProductFilter]

    @strawberry.field(description="Number of products matching the filters, over all pages.")
    async def total_count(self, info: strawberry.Info[Context, None]) -> int:
        return await info.context.services.catalog.count_products(self.product_filter)
