"""Per-request DataLoaders: every relation is fetched in one query per batch of keys."""

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app import models
from app.container import Services


class Loaders:
    def __init__(self, services: Services) -> None:
        async def load_products(ids: Sequence[int]) -> list[models.Product | None]:
            found = await services.catalog.products_by_ids(ids, include_archived=True)
            return [found.get(product_id) for product_id in ids]

        async def load_users(ids: Sequence[int]) -> list[models.User | None]:
            found = await services.users.users_by_ids(ids)
            return [found.get(user_id) for user_id in ids]

        async def load_purchase_counts(ids: Sequence[int]) -> list[int]:
            counts = await services.catalog.purchase_counts(ids)
            return [counts[product_id] for product_id in ids]

        self.product = DataLoader(load_fn=load_products)
        self.user = DataLoader(load_fn=load_users)
        self.purchase_count = DataLoader(load_fn=load_purchase_counts)
