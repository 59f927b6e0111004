"""Per-request DataLoaders: every relation is fetched in one query per batch of keys."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from app.container import Services

if TYPE_CHECKING:
    from app import models

RECENT_PRODUCTS = 5


class Loaders:
    def __init__(self, services: Services) -> None:
        async def load_products(ids: Sequence[int]) -> list["models.Product | None"]:
            found = await services.catalog.products_by_ids(ids, include_archived=True)
            return [found.get(product_id) for product_id in ids]

        async def load_users(ids: Sequence[int]) -> list["models.User | None"]:
            found = await services.users.users_by_ids(ids)
            return [found.get(user_id) for user_id in ids]

        async def load_interactions(ids: Sequence[int]) -> list["models.Interaction | None"]:
            found = await services.events.interactions_by_ids(ids)
            return [found.get(interaction_id) for interaction_id in ids]

        async def load_purchase_counts(ids: Sequence[int]) -> list[int]:
            counts = await services.catalog.purchase_counts(ids)
            return [counts[product_id] for product_id in ids]

        async def load_recent_products(user_ids: Sequence[int]) -> list[list["models.Product"]]:
            recent = await services.events.recent_product_ids(user_ids, RECENT_PRODUCTS)
            products = await services.catalog.products_by_ids(
                [pid for ids in recent.values() for pid in ids], include_archived=True
            )
            return [
                [products[pid] for pid in recent.get(user_id, []) if pid in products]
                for user_id in user_ids
            ]

        self.product = DataLoader(load_fn=load_products)
        self.user = DataLoader(load_fn=load_users)
        self.interaction = DataLoader(load_fn=load_interactions)
        self.purchase_count = DataLoader(load_fn=load_purchase_counts)
        self.recent_products = DataLoader(load_fn=load_recent_products)
