"""The append-only interaction log: recording events and reading a customer's history."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.enums import InteractionType
from app.errors import ErrorCode, ServiceError, bad_input
from app.models import Interaction, Product
from app.services.catalog import Page, check_page_size

MAX_QUANTITY = 10_000
EventListener = Callable[[Interaction], Awaitable[None]]


class EventService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> None:
        """Call `listener` after every committed event (cache invalidation, live updates)."""
        self._listeners.append(listener)

    async def record(
        self, user_id: int, product_id: int, type_: InteractionType, quantity: int
    ) -> Interaction:
        """Commit one event; it is durable when this returns."""
        if not 1 <= quantity <= MAX_QUANTITY:
            raise bad_input("quantity", f"`quantity` must be between 1 and {MAX_QUANTITY}")
        async with self._sessions() as session, session.begin():
            product_live = await session.scalar(
                select(Product.id).where(Product.id == product_id, Product.deleted_at.is_(None))
            )
            if product_live is None:
                raise ServiceError(ErrorCode.NOT_FOUND, "No such product", "productId")
            interaction = Interaction(
                user_id=user_id, product_id=product_id, type=type_.value, quantity=quantity
            )
            session.add(interaction)
        for listener in self._listeners:
            await listener(interaction)
        return interaction

    async def interactions_by_ids(self, ids: Sequence[int]) -> dict[int, Interaction]:
        if not ids:
            return {}
        statement = select(Interaction).where(Interaction.id.in_(set(ids)))
        async with self._sessions() as session:
            return {row.id: row for row in (await session.scalars(statement)).all()}

    async def recent_product_ids(
        self, user_ids: Sequence[int], limit: int, scan: int = 50
    ) -> dict[int, list[int]]:
        """Per user, <= `limit` distinct product ids of the last `scan` events, newest first."""
        ranked = (
            select(
                Interaction.user_id,
                Interaction.product_id,
                func.row_number()
                .over(partition_by=Interaction.user_id, order_by=Interaction.id.desc())
                .label("position"),
            )
            .where(Interaction.user_id.in_(set(user_ids)))
            .subquery()
        )
        statement = (
            select(ranked.c.user_id, ranked.c.product_id)
            .where(ranked.c.position <= scan)
            .order_by(ranked.c.user_id, ranked.c.position)
        )
        result: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
        async with self._sessions() as session:
            for user_id, product_id in await session.execute(statement):
                products = result[user_id]
                if len(products) < limit and product_id not in products:
                    products.append(product_id)
        return result

    async def history(
        self,
        user_id: int,
        first: int,
        before_id: int | None,
        type_: InteractionType | None = None,
    ) -> Page[Interaction]:
        """A customer's events, newest first (descending id), before `before_id` (keyset)."""
        check_page_size(first)
        statement = (
            select(Interaction)
            .where(Interaction.user_id == user_id)
            .order_by(Interaction.id.desc())
            .limit(first + 1)
        )
        if before_id is not None:
            statement = statement.where(Interaction.id < before_id)
        if type_ is not None:
            statement = statement.where(Interaction.type == type_.value)
        async with self._sessions() as session:
            rows = (await session.scalars(statement)).all()
        return Page(items=rows[:first], has_next=len(rows) > first)

    async def events_since(
        self, user_ids: Sequence[int], after_id: int
    ) -> list[tuple[int, str, str, int, datetime]]:
        """(user id, product sku, type, quantity, occurred_at) of events with id > `after_id`."""
        statement = (
            select(
                Interaction.user_id,
                Product.sku,
                Interaction.type,
                Interaction.quantity,
                Interaction.occurred_at,
            )
            .join(Product, Product.id == Interaction.product_id)
            .where(Interaction.user_id.in_(set(user_ids)), Interaction.id > after_id)
            .order_by(Interaction.id)
        )
        async with self._sessions() as session:
            return [tuple(row) for row in (await session.execute(statement)).all()]  # type: ignore[misc]
