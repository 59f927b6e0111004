"""Root query fields; each resolver checks access and delegates to a service."""

from typing import Annotated

import strawberry
from strawberry import relay

from app.errors import bad_input
from app.services.catalog import MAX_PAGE_SIZE, ProductFilter
from schema.context import Context
from schema.types.common import connection_from_page, decode_cursor, decode_id, parse_global_id
from schema.types.experiment import Experiment, OfflineEvaluation
from schema.types.product import Product, ProductConnection, products_by_ids
from schema.types.recommendation import ModelInfo, Recommendation
from schema.types.user import User, UserConnection

Info = strawberry.Info[Context, None]


NODE_TYPES = {"Product", "User", "Interaction"}


def _target_customer(info: Info, user_id: strawberry.ID | None) -> int:
    """The viewer's own id, or `user_id` when the viewer is an admin."""
    viewer = info.context.require_viewer()
    if user_id is None:
        return viewer.user_id
    target = decode_id(user_id, "User", "userId")
    if target != viewer.user_id:
        info.context.require_admin()
    return target


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global id: a Product, User or Interaction.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        global_id = parse_global_id(id)
        if global_id is None or global_id.type_name not in NODE_TYPES:
            raise bad_input("id", "`id` is not the id of an object")
        return await global_id.resolve_node(info)

    @strawberry.field(
        description="Browse the catalog in id order with keyset (cursor) pagination. "
        "Filters combine with AND; `search` matches every word in name, description or tags."
    )
    async def products(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="`pageInfo.endCursor` of the previous page."),
        ] = None,
        category: Annotated[
            str | None, strawberry.argument(description="Exact category name.")
        ] = None,
        search: Annotated[
            str | None, strawberry.argument(description="Words to find, case-insensitive.")
        ] = None,
        min_price: Annotated[float | None, strawberry.argument(description="Lowest price.")] = None,
        max_price: Annotated[
            float | None, strawberry.argument(description="Highest price.")
        ] = None,
    ) -> ProductConnection:
        product_filter = ProductFilter(category, search, min_price, max_price)
        after_id = decode_cursor("product", after)
        page = await info.context.services.catalog.list_products(product_filter, first, after_id)
        return connection_from_page(
            ProductConnection,
            "product",
            page,
            Product.from_row,
            after,
            product_filter=product_filter,
        )

    @strawberry.field(description="One product by its global id; null when unknown or archived.")
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        row = await info.context.loaders.product.load(decode_id(id, "Product"))
        return Product.from_live_row(row) if row else None

    @strawberry.field(description="One product by the shop's own id (`sku`); null when unknown.")
    async def product_by_sku(self, info: Info, sku: str) -> Product | None:
        rows = await info.context.services.catalog.products_by_skus([sku])
        return Product.from_row(rows[sku]) if sku in rows else None

    @strawberry.field(description="Every category name in the catalog, sorted.")
    async def categories(self, info: Info) -> list[str]:
        return await info.context.services.catalog.categories()

    @strawberry.field(
        description="The signed-in user (a visitor with a visitor token: role VISITOR, its "
        "`interactions` are the visit's); null without a token."
    )
    async def me(self, info: Info) -> User | None:
        if info.context.viewer is None:
            return None
        row = await info.context.loaders.user.load(info.context.viewer.user_id)
        return User.from_row(row) if row else None

    @strawberry.field(
        description="Personal recommendations, best first, for the signed-in customer or "
        "visitor (or for `userId` when an admin asks). Events recorded a moment ago already "
        "count: a visitor's list comes from the visit's events, trending products until then. "
        "Products the customer bought or has in the open cart (added, not bought) are left out. "
        "During an A/B experiment the customer's variant decides the model, and a list "
        "customers ask for themselves counts as shown to them (an admin's look does not)."
    )
    async def recommendations(
        self,
        info: Info,
        user_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Another customer's id; admins only."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
        category: Annotated[
            str | None, strawberry.argument(description="Only products of this category.")
        ] = None,
    ) -> list[Recommendation]:
        target = _target_customer(info, user_id)
        own = target == info.context.require_viewer().user_id
        items = await info.context.services.recommendations.live_list(
            target, first, category, record_impressions=own
        )
        info.context.loaders.product.prime_many({item.product.id: item.product for item in items})
        return [Recommendation.from_live(item, target) for item in items]

    @strawberry.field(
        description='The signed-in customer\'s recommendation of one product (for a "Why?" '
        "control): null when the product is not among their top 100."
    )
    async def recommendation(
        self,
        info: Info,
        product_id: strawberry.ID,
        user_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Another customer's id; admins only."),
        ] = None,
    ) -> Recommendation | None:
        target = _target_customer(info, user_id)
        wanted = decode_id(product_id, "Product", "productId")
        items = await info.context.services.recommendations.live_list(target, MAX_PAGE_SIZE)
        match = next((item for item in items if item.served.product_id == wanted), None)
        return Recommendation.from_live(match, target) if match else None

    @strawberry.field(
        description="What many different customers bought or looked at lately; what visitors "
        "and new customers see. Each customer counts once per product per day, a product needs "
        "a minimum of distinct customers (`TRENDING_MIN_CUSTOMERS`, default 3), and today's "
        "customers add to a longer-term average, so a few customers' clicks do not change it."
    )
    async def trending(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
        category: Annotated[
            str | None, strawberry.argument(description="Only products of this category.")
        ] = None,
    ) -> list[Product]:
        ids = await info.context.services.recommendations.trending(first, category)
        return await products_by_ids(info, ids)

    @strawberry.field(
        description="The model serving recommendations now; null while no trainer has published "
        "one yet (lists are then the products with the most distinct customers). Admins only."
    )
    async def model_info(self, info: Info) -> ModelInfo | None:
        info.context.require_admin()
        model = info.context.services.recommendations.model()
        return ModelInfo.from_model(model) if model else None

    @strawberry.field(
        description="The A/B experiments of the EXPERIMENTS setting, in configured order, with "
        "their results so far (computed on request). Admins only."
    )
    async def experiments(self, info: Info) -> list[Experiment]:
        info.context.require_admin()
        reports = await info.context.services.experiments.reports()
        return [Experiment.from_report(report) for report in reports]

    @strawberry.field(
        description="The latest offline evaluation (`recommender evaluate`); null when none "
        "was stored. Admins only."
    )
    async def offline_evaluation(self, info: Info) -> OfflineEvaluation | None:
        info.context.require_admin()
        report = await info.context.services.evaluations.latest()
        return OfflineEvaluation.from_report(report) if report else None

    @strawberry.field(description="A user by global id: yourself, or anyone for admins.")
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        nodes = await User.resolve_nodes(info=info, node_ids=[str(decode_id(id, "User"))])
        return nodes[0]

    @strawberry.field(description="All users in id order. Admins only.")
    async def users(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="`pageInfo.endCursor` of the previous page."),
        ] = None,
    ) -> UserConnection:
        info.context.require_admin()
        page = await info.context.services.users.list_users(first, decode_cursor("user", after))
        return connection_from_page(UserConnection, "user", page, User.from_row, after)
