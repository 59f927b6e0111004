"""The append-only interaction log: recording events (group commit), moving a visit to an
account, and reading a customer's history.

Write path. `record` and `record_batch` validate what they can without the database, then hand
their events to one writer task per process and wait. The writer takes everything queued, waits
up to `EVENT_GROUP_COMMIT_MS` for more (at most `GROUP_MAX_EVENTS`), and stores it all in ONE
transaction: a product look-up, one multi-row `INSERT … ON CONFLICT (user_id, client_event_id)
DO NOTHING RETURNING`, and, only for retried keys, one look-up of the stored rows. After the
commit it calls every listener once with the whole group, then answers the callers. So:

* a call returns only after its events are committed (durable), and every listener has run;
* a failed transaction stores nothing of the group; an unreachable database fails every call
  of the group with SERVICE_UNAVAILABLE (`app.db.unavailable_error`), and any other failure of
  a group is retried one call per transaction, so a bad call cannot fail its neighbours;
* an event with a `client_event_id` already stored for its user is not stored again: the call
  gets the stored row with `new=False` (also within one group, and across processes).
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Table, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import Database
from app.db import unavailable_error
from app.enums import InteractionType, Role
from app.errors import ErrorCode, ServiceError, bad_input
from app.metrics import EVENT_GROUP_SIZE, EVENT_TRANSACTIONS, EVENTS_RECORDED
from app.models import Interaction, Product, User
from app.services.catalog import Page, check_page_size
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_QUANTITY = 10_000
MAX_BATCH = 500
MAX_CLIENT_EVENT_ID = 64
GROUP_MAX_EVENTS = 2_000


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A committed row of `interactions`, detached from any session (cheaper than an ORM
    object); `occurred_at` is naive UTC."""

    id: int
    user_id: int
    product_id: int
    type: str
    quantity: int
    occurred_at: datetime
    client_event_id: str | None


EventListener = Callable[[Sequence[StoredEvent]], Awaitable[None]]
"""Called once per committed group with its new events (possibly of many users), in id order."""

_TYPES = frozenset(member.value for member in InteractionType)
_COLUMNS = (
    Interaction.id,
    Interaction.user_id,
    Interaction.product_id,
    Interaction.type,
    Interaction.quantity,
    Interaction.occurred_at,
    Interaction.client_event_id,
)


@dataclass(frozen=True)
class EventInput:
    """One event as a client sent it. `product_id` None: the client's product id was malformed;
    `occurred_at`: client time (naive means UTC), None for now; `client_event_id`: the client's
    idempotency key, unique per user."""

    product_id: int | None
    type: InteractionType | str
    quantity: int = 1
    occurred_at: datetime | None = None
    client_event_id: str | None = None


@dataclass(frozen=True)
class EventError:
    """Why event `index` of a call was refused; `error.field` is `events[<index>].<field>`."""

    index: int
    error: ServiceError


@dataclass(frozen=True)
class RecordedEvent:
    """Event `index` of a call, durable; `new` is False when its `client_event_id` was stored
    before (then `interaction` is the stored row)."""

    index: int
    interaction: StoredEvent
    new: bool


@dataclass(frozen=True)
class BatchResult:
    """Per event of a call, in index order: either recorded or refused."""

    recorded: list[RecordedEvent]
    errors: list[EventError]


@dataclass(frozen=True)
class _Row:
    """A validated event ready to insert; every column set here, so rows can be matched to
    what the database returns by content."""

    user_id: int
    product_id: int
    type: str
    quantity: int
    occurred_at: datetime
    client_event_id: str | None

    def values(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "product_id": self.product_id,
            "type": self.type,
            "quantity": self.quantity,
            "occurred_at": self.occurred_at,
            "client_event_id": self.client_event_id,
        }


@dataclass
class _Call:
    """One caller's events waiting for the writer."""

    user_id: int
    prefix: str | None
    """`events` for a batch (fields are named `events[<index>].<field>`), None for one event."""
    rows: list[tuple[int, _Row]]
    future: asyncio.Future[BatchResult]
    invalid: list[EventError] = field(default_factory=list)
    """Refused before the database was asked."""
    refused: list[EventError] = field(default_factory=list)
    results: list[RecordedEvent] = field(default_factory=list)

    def field_name(self, index: int, name: str) -> str:
        return f"{self.prefix}[{index}].{name}" if self.prefix else name

    def answer(self, result: BatchResult | BaseException) -> None:
        if self.future.done():
            return
        if isinstance(result, BaseException):
            self.future.set_exception(result)
        else:
            self.future.set_result(result)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _row_key(row: "_Row | StoredEvent") -> tuple[Any, ...]:
    return (
        row.user_id,
        row.product_id,
        row.type,
        row.quantity,
        row.occurred_at,
        row.client_event_id,
    )


def _interaction(values: Any) -> StoredEvent:
    return StoredEvent(
        id=values.id,
        user_id=values.user_id,
        product_id=values.product_id,
        type=values.type,
        quantity=values.quantity,
        occurred_at=values.occurred_at,
        client_event_id=values.client_event_id,
    )


class EventService:
    def __init__(self, database: Database, settings: Settings | None = None) -> None:
        self._db = database
        self._sessions = database.writer  # the write path: always the primary
        self._settings = settings or Settings()
        self._listeners: list[EventListener] = []
        self._queue: asyncio.Queue[_Call] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, listener: EventListener) -> None:
        """Call `listener` with every committed group of new events (cache invalidation, live
        updates), before the calls that recorded them return."""
        self._listeners.append(listener)

    async def record(
        self,
        user_id: int,
        product_id: int,
        type_: InteractionType,
        quantity: int,
        client_event_id: str | None = None,
    ) -> StoredEvent:
        """Commit one event (with others arriving meanwhile); it is durable when this returns."""
        event = EventInput(product_id, type_, quantity, None, client_event_id)
        result = await self._submit(user_id, [event], prefix=None)
        if result.errors:
            raise result.errors[0].error
        return result.recorded[0].interaction

    async def record_batch(self, user_id: int, events: Sequence[EventInput]) -> BatchResult:
        """Store the valid events of `events` (at most `MAX_BATCH`) in one transaction and
        refuse the others one by one; a batch over the limit is refused as a whole."""
        if len(events) > MAX_BATCH:
            raise bad_input("events", f"At most {MAX_BATCH} events per call, got {len(events)}")
        return await self._submit(user_id, events, prefix="events")

    async def close(self) -> None:
        """Let the writer finish what is queued, then stop it."""
        writer, self._writer = self._writer, None
        if writer is None or writer.done():
            return
        if self._queue is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._queue.join(), 10)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer

    # --- validation ------------------------------------------------------------------------

    def _check(self, event: EventInput, field_name: Callable[[str], str]) -> ServiceError | None:
        """The first problem of `event` that needs no database, or None."""
        if event.product_id is None:
            return bad_input(field_name("productId"), "`productId` is not the id of a Product")
        if event.type not in _TYPES:
            allowed = ", ".join(member.value.upper() for member in InteractionType)
            return bad_input(field_name("type"), f"`type` must be one of {allowed}")
        if not 1 <= event.quantity <= MAX_QUANTITY:
            return bad_input(
                field_name("quantity"), f"`quantity` must be between 1 and {MAX_QUANTITY}"
            )
        key = event.client_event_id
        if key is not None:
            if not key or len(key) > MAX_CLIENT_EVENT_ID:
                return bad_input(
                    field_name("clientEventId"),
                    f"`clientEventId` must be 1 to {MAX_CLIENT_EVENT_ID} characters",
                )
            if "\x00" in key:
                return bad_input(
                    field_name("clientEventId"), "`clientEventId` must not contain NUL characters"
                )
        if event.occurred_at is not None:
            now = datetime.now(UTC).replace(tzinfo=None)
            moment = _naive_utc(event.occurred_at)
            skew = timedelta(seconds=self._settings.event_clock_skew_seconds)
            if moment > now + skew:
                return bad_input(
                    field_name("occurredAt"),
                    f"`occurredAt` is in the future (more than {skew.total_seconds():g} s "
                    "ahead of the server clock)",
                )
            max_age = timedelta(days=self._settings.event_max_age_days)
            if moment < now - max_age:
                return bad_input(
                    field_name("occurredAt"),
                    f"`occurredAt` is older than {max_age.days} days; such events are not taken",
                )
        return None

    async def _submit(
        self, user_id: int, events: Sequence[EventInput], prefix: str | None
    ) -> BatchResult:
        call = _Call(user_id, prefix, [], asyncio.get_running_loop().create_future())
        seen: set[str] = set()
        now = datetime.now(UTC).replace(tzinfo=None)
        for index, event in enumerate(events):

            def field_name(name: str, index: int = index) -> str:
                return call.field_name(index, name)

            problem = self._check(event, field_name)
            if problem is None and event.client_event_id is not None:
                if event.client_event_id in seen:
                    problem = bad_input(
                        field_name("clientEventId"),
                        "`clientEventId` repeats an earlier event of this call",
                    )
                seen.add(event.client_event_id)
            if problem is not None:
                call.invalid.append(EventError(index, problem))
                continue
            occurred_at = _naive_utc(event.occurred_at) if event.occurred_at else now
            assert event.product_id is not None
            row = _Row(
                user_id,
                event.product_id,
                InteractionType(event.type).value,
                event.quantity,
                occurred_at,
                event.client_event_id,
            )
            call.rows.append((index, row))
        if not call.rows:
            return BatchResult([], call.invalid)
        queue = self._ensure_writer()
        queue.put_nowait(call)
        return await asyncio.shield(call.future)

    # --- the writer ------------------------------------------------------------------------

    def _ensure_writer(self) -> asyncio.Queue[_Call]:
        loop = asyncio.get_running_loop()
        if self._writer is None or self._writer.done() or self._loop is not loop:
            self._loop = loop
            self._queue = asyncio.Queue()
            self._writer = loop.create_task(self._write_forever(self._queue))
        assert self._queue is not None
        return self._queue

    async def _write_forever(self, queue: asyncio.Queue[_Call]) -> None:
        window = self._settings.event_group_commit_ms / 1000
        while True:
            group = [await queue.get()]
            size = len(group[0].rows)
            deadline = time.monotonic() + window
            while size < GROUP_MAX_EVENTS:
                if queue.empty():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        group.append(await asyncio.wait_for(queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    group.append(queue.get_nowait())
                size += len(group[-1].rows)
            try:
                await self._commit_group(group)
            except Exception as error:  # the callers get it; the writer keeps going
                for call in group:
                    call.answer(error)
            finally:
                for _ in group:
                    queue.task_done()

    async def _commit_group(self, group: list[_Call]) -> None:
        """Store `group` in one transaction, falling back to one transaction per call when the
        group fails for another reason than an outage; then notify and answer."""
        try:
            new = await self._store(group)
        except Exception as error:
            if unavailable_error(error) is not None:  # the schema answers SERVICE_UNAVAILABLE
                for call in group:
                    call.answer(error)
                return
            log.warning(
                "event group of %d calls failed (%s); retrying one call per transaction",
                len(group),
                type(error).__name__,
            )
            new = []
            for call in group:
                if call.future.done():
                    continue
                try:
                    new.extend(await self._store([call]))
                except Exception as single:
                    call.answer(single)
        await self._notify(new)
        for call in group:
            call.answer(self._result_of(call))

    async def _store(self, group: list[_Call]) -> list[StoredEvent]:
        """One transaction for `group`; fills each call's results; returns the new rows."""
        for call in group:
            call.refused, call.results = [], []
        async with self._sessions() as session, session.begin():
            user_ids = {call.user_id for call in group}
            roles = dict(
                (
                    await session.execute(
                        select(User.id, User.role).where(
                            User.id.in_(user_ids), User.merged_into_id.is_(None)
                        )
                    )
                ).all()
            )
            product_ids = {row.product_id for call in group for _, row in call.rows}
            live = set(
                await session.scalars(
                    select(Product.id).where(
                        Product.id.in_(product_ids), Product.deleted_at.is_(None)
                    )
                )
            )
            pending: list[tuple[_Call, int, _Row]] = []
            for call in group:
                if call.user_id not in roles:
                    call.answer(_visit_over())
                    continue
                for index, row in call.rows:
                    if row.product_id in live:
                        pending.append((call, index, row))
                    else:
                        call.refused.append(EventError(index, _unknown_product(call, index)))
            if not pending:
                return []
            inserted = await self._insert(session, [row for _, _, row in pending])
            visitors = {
                call.user_id for call, _, _ in pending if roles[call.user_id] == Role.VISITOR.value
            }
            if visitors:
                await _check_still_active(session, visitors)
            by_content: dict[tuple[Any, ...], list[StoredEvent]] = defaultdict(list)
            for interaction in inserted:
                by_content[_row_key(interaction)].append(interaction)
            missing: list[tuple[_Call, int, _Row]] = []
            for call, index, row in pending:
                matches = by_content.get(_row_key(row))
                if matches:
                    call.results.append(RecordedEvent(index, matches.pop(), True))
                else:
                    missing.append((call, index, row))
            if missing:
                stored = await self._stored(session, [row for _, _, row in missing])
                for call, index, row in missing:
                    existing = stored[(row.user_id, row.client_event_id)]
                    call.results.append(RecordedEvent(index, existing, False))
        EVENT_TRANSACTIONS.inc()
        EVENT_GROUP_SIZE.observe(len(inserted))
        EVENTS_RECORDED.inc(len(inserted))
        return sorted(inserted, key=lambda interaction: interaction.id)

    async def _insert(self, session: AsyncSession, rows: list[_Row]) -> list[StoredEvent]:
        """One INSERT for `rows`, skipping (user, client_event_id) pairs already stored."""
        connection = await session.connection()
        builder = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        result = await connection.execute(
            _insert_statement(builder), [row.values() for row in rows]
        )
        return [_interaction(values) for values in result.all()]

    async def _stored(
        self, session: AsyncSession, rows: list[_Row]
    ) -> dict[tuple[int, str | None], StoredEvent]:
        pairs = {(row.user_id, row.client_event_id) for row in rows}
        statement = select(*_COLUMNS).where(
            tuple_(Interaction.user_id, Interaction.client_event_id).in_(pairs)
        )
        found = (await session.execute(statement)).all()
        return {(values.user_id, values.client_event_id): _interaction(values) for values in found}

    async def _notify(self, interactions: Sequence[StoredEvent]) -> None:
        """Run every listener on `interactions`; a failing listener is logged, never raised
        (the events are committed whatever happens to the follow-up work)."""
        if not interactions:
            return
        for listener in self._listeners:
            try:
                await listener(interactions)
            except Exception:
                log.exception("event listener failed", extra={"listener": repr(listener)})

    @staticmethod
    def _result_of(call: _Call) -> BatchResult:
        recorded = sorted(call.results, key=lambda item: item.index)
        errors = sorted(call.invalid + call.refused, key=lambda item: item.index)
        return BatchResult(recorded, errors)

    # --- visits ----------------------------------------------------------------------------

    async def move_visit(
        self, session: AsyncSession, visitor_id: int, user_id: int
    ) -> list[StoredEvent]:
        """Move visitor `visitor_id`'s events to `user_id` inside the caller's transaction, and
        mark the visitor merged (its token is refused from then on). Events whose
        `client_event_id` the account already has are the same events: they are dropped, not
        duplicated. Moved events get new ids (newer than any model's watermark, so they count
        at once). Returns the moved rows; [] when the visitor was merged already."""
        merged = await session.execute(
            update(User)
            .where(
                User.id == visitor_id,
                User.role == Role.VISITOR.value,
                User.merged_into_id.is_(None),
            )
            .values(merged_into_id=user_id)
        )
        if merged.rowcount != 1:  # type: ignore[attr-defined]
            return []
        taken = select(Interaction.client_event_id).where(
            Interaction.user_id == user_id, Interaction.client_event_id.is_not(None)
        )
        await session.execute(
            delete(Interaction).where(
                Interaction.user_id == visitor_id, Interaction.client_event_id.in_(taken)
            )
        )
        copied = (
            select(
                literal(user_id, Integer).label("user_id"),
                Interaction.product_id,
                Interaction.type,
                Interaction.quantity,
                Interaction.occurred_at,
                Interaction.client_event_id,
            )
            .where(Interaction.user_id == visitor_id)
            .order_by(Interaction.id)
        )
        moved = await session.execute(
            insert(Interaction)
            .from_select(
                ["user_id", "product_id", "type", "quantity", "occurred_at", "client_event_id"],
                copied,
            )
            .returning(*_COLUMNS)
        )
        rows = sorted((_interaction(values) for values in moved.all()), key=lambda i: i.id)
        await session.execute(delete(Interaction).where(Interaction.user_id == visitor_id))
        return rows

    async def notify(self, interactions: Sequence[StoredEvent]) -> None:
        """Tell the listeners about events that changed owner (a merged visit)."""
        await self._notify(interactions)

    # --- reading ---------------------------------------------------------------------------
    # A customer's events come from a read replica only once it has applied their own writes
    # (`Database.reader(user_ids)`); look-ups by event id stay on the primary.

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
        async with self._db.reader(user_ids) as session:
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
        async with self._db.reader([user_id]) as session:
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
        async with self._db.reader(user_ids) as session:
            return [tuple(row) for row in (await session.execute(statement)).all()]  # type: ignore[misc]


@functools.cache
def _insert_statement(builder: Callable[[Table], Any]) -> Any:
    """INSERT of one event row skipping stored (user, client_event_id) pairs, RETURNING the row;
    executed with many parameter sets, SQLAlchemy sends it as multi-row INSERTs (compiled
    once)."""
    table = Interaction.__table__
    assert isinstance(table, Table)
    return (
        builder(table)
        .on_conflict_do_nothing(index_elements=["user_id", "client_event_id"])
        .returning(*(table.c[column.key] for column in _COLUMNS))
    )


def _visit_over() -> ServiceError:
    return ServiceError(
        ErrorCode.UNAUTHENTICATED,
        "This visit has ended (it was merged into an account, or the account is gone): "
        "sign in again",
    )


def _unknown_product(call: _Call, index: int) -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, "No such product", call.field_name(index, "productId"))


async def _check_still_active(session: AsyncSession, visitor_ids: set[int]) -> None:
    """Raise when one of `visitor_ids` was merged while the group was written (the group is then
    retried call by call). Locks the rows FOR SHARE on PostgreSQL, so a merge waits for this
    transaction or this one sees the merge."""
    statement = (
        select(User.merged_into_id).where(User.id.in_(visitor_ids)).with_for_update(read=True)
    )
    if any(merged is not None for merged in await session.scalars(statement)):
        raise _VisitMergedMeanwhile()


class _VisitMergedMeanwhile(Exception):
    pass
