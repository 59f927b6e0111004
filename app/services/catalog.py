"""The product catalog: keyset-paginated listing, search, categories and admin edits."""

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from sqlalchemy import Select, and_, func, select

from app.database import Database
from app.enums import InteractionType
from app.errors import ErrorCode, ServiceError, bad_input
from app.models import Interaction, Product, utcnow

MAX_PAGE_SIZE = 100
T = TypeVar("T")
MAX_PRICE = Decimal("99999999.99")


@dataclass(frozen=True)
class ProductFilter:
    category: str | None = None
    search: str | None = None
    min_price: float | None = None
    max_price: float | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """`items` in key order; `has_next` tells whether more follow after the last one."""

    items: Sequence[T]
    has_next: bool


@dataclass
class ProductInput:
    sku: str | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None
    price: float | None = None
    image_url: str | None = None
    tags: list[str] | None = field(default=None)


def search_text(name: str, description: str, tags: Sequence[str]) -> str:
    """The lower-cased text that `search` matches words against."""
    return " ".join([name, description, *tags]).lower()


def search_words(search: str) -> list[str]:
    return [word for word in search.lower().split() if word][:10]


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def check_page_size(first: int, argument: str = "first") -> None:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise bad_input(
            argument, f"`{argument}` must be between 1 and {MAX_PAGE_SIZE}, got {first}"
        )


def _filtered(statement: Select, product_filter: ProductFilter) -> Select:
    conditions = [Product.deleted_at.is_(None)]
    if product_filter.category is not None:
        conditions.append(Product.category == product_filter.category)
    if product_filter.min_price is not None:
        conditions.append(Product.price >= _price(product_filter.min_price, "minPrice"))
    if product_filter.max_price is not None:
        conditions.append(Product.price <= _price(product_filter.max_price, "maxPrice"))
    for word in search_words(product_filter.search or ""):
        conditions.append(Product.search_text.like(_like_pattern(word), escape="\\"))
    return statement.where(and_(*conditions))


def _price(value: float, argument: str) -> Decimal:
    if not math.isfinite(value) or value < 0 or value > MAX_PRICE:
        raise bad_input(argument, f"`{argument}` must be a price between 0 and {MAX_PRICE}")
    return Decimal(str(value)).quantize(Decimal("0.01"))


class CatalogService:
    """The catalog. Product rows read by id are memoised in this process for `row_ttl_seconds`
    (edits here drop them at once; other processes see an edit within that time). Reads go to
    a read replica when one is fit (an edit reaches them within the replica lag bound)."""

    def __init__(self, database: Database, row_ttl_seconds: float = 30.0) -> None:
        self._db = database
        self._row_ttl = row_ttl_seconds
        self._rows: dict[int, tuple[float, Product]] = {}
        self._listeners: list[Callable[[], Awaitable[None]]] = []

    def subscribe(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call `listener` after every product creation, edit or archiving."""
        self._listeners.append(listener)

    async def _changed(self) -> None:
        for listener in self._listeners:
            await listener()

    async def list_products(
        self, product_filter: ProductFilter, first: int, after_id: int | None
    ) -> Page[Product]:
        """Products in ascending id order after `after_id` (keyset), at most `first`."""
        check_page_size(first)
        statement = _filtered(select(Product), product_filter).order_by(Product.id).limit(first + 1)
        if after_id is not None:
            statement = statement.where(Product.id > after_id)
        async with self._db.reader() as session:
            rows = (await session.scalars(statement)).all()
        return Page(items=rows[:first], has_next=len(rows) > first)

    async def count_products(self, product_filter: ProductFilter) -> int:
        statement = _filtered(select(func.count()).select_from(Product), product_filter)
        async with self._db.reader() as session:
            return int(await session.scalar(statement) or 0)

    async def products_by_ids(
        self, ids: Sequence[int], include_archived: bool = False
    ) -> dict[int, Product]:
        """Products by id (archived ones only with `include_archived`); at most one query."""
        now = time.monotonic()
        found: dict[int, Product] = {}
        missing: list[int] = []
        for product_id in set(ids):
            memo = self._rows.get(product_id)
            if memo is not None and memo[0] > now:
                found[product_id] = memo[1]
            else:
                missing.append(product_id)
        if missing:
            async with self._db.reader() as session:
                rows = (await session.scalars(select(Product).where(Product.id.in_(missing)))).all()
            for row in rows:
                found[row.id] = row
                if self._row_ttl:
                    self._rows[row.id] = (now + self._row_ttl, row)
        if include_archived:
            return found
        return {key: row for key, row in found.items() if row.deleted_at is None}

    async def products_by_skus(self, skus: Sequence[str]) -> dict[str, Product]:
        if not skus:
            return {}
        statement = select(Product).where(Product.sku.in_(set(skus)), Product.deleted_at.is_(None))
        async with self._db.reader() as session:
            return {product.sku: product for product in (await session.scalars(statement)).all()}

    async def purchase_counts(self, product_ids: Sequence[int]) -> dict[int, int]:
        """Number of purchase events per product id (0 when none); one query for the batch."""
        statement = (
            select(Interaction.product_id, func.count())
            .where(
                Interaction.product_id.in_(set(product_ids)),
                Interaction.type == InteractionType.PURCHASE.value,
            )
            .group_by(Interaction.product_id)
        )
        async with self._db.reader() as session:
            counts = {product_id: n for product_id, n in await session.execute(statement)}
        return {product_id: int(counts.get(product_id, 0)) for product_id in product_ids}

    async def categories(self) -> list[str]:
        statement = (
            select(Product.category)
            .where(
                Product.category.is_not(None), Product.category != "", Product.deleted_at.is_(None)
            )
            .distinct()
            .order_by(Product.category)
        )
        async with self._db.reader() as session:
            return [category for category in (await session.scalars(statement)).all() if category]

    async def create_product(self, data: ProductInput) -> Product:
        values = _validated(data, creating=True)
        async with self._db.writer() as session, session.begin():
            if await session.scalar(select(Product.id).where(Product.sku == values["sku"])):
                raise ServiceError(ErrorCode.CONFLICT, "A product with this SKU exists", "sku")
            product = Product(**values)
            product.search_text = search_text(product.name, product.description, product.tags)
            session.add(product)
        await self._changed()
        return product

    async def update_product(self, product_id: int, data: ProductInput) -> Product:
        values = _validated(data, creating=False)
        async with self._db.writer() as session, session.begin():
            product = await session.get(Product, product_id)
            if product is None or product.deleted_at is not None:
                raise ServiceError(ErrorCode.NOT_FOUND, "No such product", "id")
            if "sku" in values and values["sku"] != product.sku:
                taken = await session.scalar(select(Product.id).where(Product.sku == values["sku"]))
                if taken:
                    raise ServiceError(ErrorCode.CONFLICT, "A product with this SKU exists", "sku")
            for key, value in values.items():
                setattr(product, key, value)
            product.search_text = search_text(product.name, product.description, product.tags)
        self._edited(product)
        await self._changed()
        return product

    async def delete_product(self, product_id: int) -> Product:
        """Archive the product: it leaves the catalog and recommendations, its events stay."""
        async with self._db.writer() as session, session.begin():
            product = await session.get(Product, product_id)
            if product is None or product.deleted_at is not None:
                raise ServiceError(ErrorCode.NOT_FOUND, "No such product", "id")
            product.deleted_at = utcnow()
        self._edited(product)
        await self._changed()
        return product

    def _edited(self, product: Product) -> None:
        """This process serves the edited row at once (a read replica may not have it yet)."""
        self._rows.pop(product.id, None)
        if self._row_ttl:
            self._rows[product.id] = (time.monotonic() + self._row_ttl, product)


def _validated(data: ProductInput, creating: bool) -> dict[str, object]:
    values: dict[str, object] = {}
    if data.sku is not None or creating:
        sku = (data.sku or "").strip()
        if not 1 <= len(sku) <= 64:
            raise bad_input("sku", "`sku` must be 1 to 64 characters")
        values["sku"] = sku
    if data.name is not None or creating:
        name = (data.name or "").strip()
        if not 1 <= len(name) <= 255:
            raise bad_input("name", "`name` must be 1 to 255 characters")
        values["name"] = name
    if data.description is not None or creating:
        description = data.description or ""
        if len(description) > 10_000:
            raise bad_input("description", "`description` must be at most 10000 characters")
        values["description"] = description
    if data.category is not None:
        category = data.category.strip()
        if len(category) > 120:
            raise bad_input("category", "`category` must be at most 120 characters")
        values["category"] = category or None
    if data.price is not None or creating:
        if data.price is None:
            raise bad_input("price", "`price` is required")
        try:
            values["price"] = _price(data.price, "price")
        except InvalidOperation as exc:
            raise bad_input("price", "`price` is not a number") from exc
    if data.image_url is not None:
        url = data.image_url.strip()
        if url and not url.startswith(("https://", "http://", "/")):
            raise bad_input("imageUrl", "`imageUrl` must be an http(s) URL or a path")
        values["image_url"] = url or None
    if data.tags is not None or creating:
        tags = [tag.strip() for tag in (data.tags or []) if tag.strip()]
        if len(tags) > 50 or any(len(tag) > 60 for tag in tags):
            raise bad_input("tags", "at most 50 `tags` of at most 60 characters each")
        values["tags"] = tags
    return values
