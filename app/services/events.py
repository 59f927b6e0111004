"""The append-only interaction log: recording events (group commit), moving a visit to an
account, and reading a customer's history.

Write path. `record` and `record_batch` validate what they can without the database, then hand
their events to one writer task per process and wait. The writer takes everything queued, waits
up to `EVENT_GROUP_COMMIT_MS` for more (at most `GROUP_MAX_EVENTS`), and stores it all in ONE
transaction with ONE statement: an `INSERT … SELECT` over the group's events sent as arrays
(PostgreSQL `unnest`) or one JSON document (SQLite `json_each`), joined to the live products and
the users not merged into an account, `ON CONFLICT (user_id, client_event_id) DO NOTHING
RETURNING` the new rows. Only when an event comes back missing does the writer ask why (a stored
key, an archived product, an ended visit). After the commit it calls every listener once with
the whole group, then answers the callers. So:

* a call returns only after its events are committed (durable), and every listener has run;
* a failed transaction stores nothing of the group; an unreachable database fails every call
  of the group with SERVICE_UNAVAILABLE (`app.db.unavailable_error`), and any other failure of
  a group is retried one call per transaction, so a bad call cannot fail its neighbours;
* an event with a `client_event_id` already stored for its user is not stored again: the call
  gets the stored row with `new=False` (also within one group, and across processes);
* a visit merged into an account meanwhile stores nothing more: on PostgreSQL the statement
  locks its users' rows `FOR SHARE` (a merge waits for this transaction, or this statement sees
  the merge); SQLite has one writer at a time.
"""

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Dialect, Integer, delete, func, insert, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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


class StoredEvent(NamedTuple):
    """A committed row of `interactions`, detached from any session (a tuple: far cheaper to
    make than an ORM object or a frozen dataclass); `occurred_at` is naive UTC."""

    id: int
    user_id: int
    product_id: int
    type: str
    quantity: int
    occurred_at: datetime
    client_event_id: str | None


EventListener = Callable[[Sequence[StoredEvent]], Awaitable[None]]
"""Called once per committed group with its new events (possibly of many users), in id order."""

_TYPES = {member.value: member.value for member in InteractionType}
"""Stored type by type (a member of InteractionType or its value)."""
_COLUMNS = (
    Interaction.id,
    Interaction.user_id,
    Interaction.product_id,
    Interaction.type,
    Interaction.quantity,
    Interaction.occurred_at,
    Interaction.client_event_id,
)


class EventInput(NamedTuple):
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


class RecordedEvent(NamedTuple):
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


class _Event(NamedTuple):
    """A validated event of a call, ready to insert; `occurred_at` is naive UTC."""

    index: int
    product_id: int
    type: str
    quantity: int
    occurred_at: datetime
    client_event_id: str | None


@dataclass(slots=True)
class _Call:
    """One caller's events waiting for the writer."""

    user_id: int
    prefix: str | None
    """`events` for a batch (fields are named `events[<index>].<field>`), None for one event."""
    events: list[_Event]
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

    def _check(self, event: EventInput, call: _Call, index: int) -> ServiceError | None:
        """The first problem of event `index` of `call` that needs no database, or None."""
        if event.product_id is None:
            return bad_input(
                call.field_name(index, "productId"), "`productId` is not the id of a Product"
            )
        if event.type not in _TYPES:
            allowed = ", ".join(member.value.upper() for member in InteractionType)
            return bad_input(call.field_name(index, "type"), f"`type` must be one of {allowed}")
        if not 1 <= event.quantity <= MAX_QUANTITY:
            return bad_input(
                call.field_name(index, "quantity"),
                f"`quantity` must be between 1 and {MAX_QUANTITY}",
            )
        key = event.client_event_id
        if key is not None:
            if not key or len(key) > MAX_CLIENT_EVENT_ID:
                return bad_input(
                    call.field_name(index, "clientEventId"),
                    f"`clientEventId` must be 1 to {MAX_CLIENT_EVENT_ID} characters",
                )
            if "\x00" in key:
                return bad_input(
                    call.field_name(index, "clientEventId"),
                    "`clientEventId` must not contain NUL characters",
                )
        if event.occurred_at is not None:
            now = datetime.now(UTC).replace(tzinfo=None)
            moment = _naive_utc(event.occurred_at)
            skew = timedelta(seconds=self._settings.event_clock_skew_seconds)
            if moment > now + skew:
                return bad_input(
                    call.field_name(index, "occurredAt"),
                    f"`occurredAt` is in the future (more than {skew.total_seconds():g} s "
                    "ahead of the server clock)",
                )
            max_age = timedelta(days=self._settings.event_max_age_days)
            if moment < now - max_age:
                return bad_input(
                    call.field_name(index, "occurredAt"),
                    f"`occurredAt` is older than {max_age.days} days; such events are not taken",
                )
        return None

    async def _submit(
        self, user_id: int, events: Sequence[EventInput], prefix: str | None
    ) -> BatchResult:
        call = _Call(user_id, prefix, [], asyncio.get_running_loop().create_future())
        seen: set[str] = set()
        now = datetime.now(UTC).replace(tzinfo=None)
        accepted = call.events
        for index, event in enumerate(events):
            problem = self._check(event, call, index)
            key = event.client_event_id
            if problem is None and key is not None:
                if key in seen:
                    problem = bad_input(
                        call.field_name(index, "clientEventId"),
                        "`clientEventId` repeats an earlier event of this call",
                    )
                seen.add(key)
            if problem is not None:
                call.invalid.append(EventError(index, problem))
                continue
            assert event.product_id is not None
            accepted.append(
                _Event(
                    index,
                    event.product_id,
                    _TYPES[event.type],
                    event.quantity,
                    _naive_utc(event.occurred_at) if event.occurred_at else now,
                    key,
                )
            )
        if not accepted:
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
            size = len(group[0].events)
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
                size += len(group[-1].events)
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
        pending = [(call, event) for call in group for event in call.events]
        new: list[StoredEvent] = []
        async with self._db.engine.begin() as connection:  # no ORM session: rows are tuples
            ids = await _insert(connection, [(call.user_id, event) for call, event in pending])
            missing: list[tuple[_Call, _Event]] = []
            for (call, event), id_ in zip(pending, ids, strict=True):
                if id_ is None:
                    missing.append((call, event))
                    continue
                stored = StoredEvent(
                    id_,
                    call.user_id,
                    event.product_id,
                    event.type,
                    event.quantity,
                    event.occurred_at,
                    event.client_event_id,
                )
                new.append(stored)
                call.results.append(RecordedEvent(event.index, stored, True))
            if missing:
                await self._explain_missing(connection, missing)
        EVENT_TRANSACTIONS.inc()
        EVENT_GROUP_SIZE.observe(len(new))
        EVENTS_RECORDED.inc(len(new))
        new.sort(key=_by_id)
        return new

    async def _explain_missing(
        self, connection: AsyncConnection, missing: list[tuple[_Call, _Event]]
    ) -> None:
        """Why the INSERT skipped `missing`, inside its transaction: a key stored before (the
        stored row, `new=False`), an ended visit (the call fails) or a product that is not live
        (NOT_FOUND). Raises `_ChangedMeanwhile` when none applies (the group is then retried call
        by call)."""
        keyed = {
            (call.user_id, event.client_event_id)
            for call, event in missing
            if event.client_event_id is not None
        }
        stored = await self._stored(connection, keyed) if keyed else {}
        unexplained = []
        for call, event in missing:
            existing = stored.get((call.user_id, event.client_event_id))
            if existing is not None:
                call.results.append(RecordedEvent(event.index, existing, False))
            else:
                unexplained.append((call, event))
        if not unexplained:
            return
        user_ids = {call.user_id for call, _ in unexplained}
        active = set(
            await connection.scalars(
                select(User.id).where(User.id.in_(user_ids), User.merged_into_id.is_(None))
            )
        )
        product_ids = {event.product_id for _, event in unexplained}
        live = set(
            await connection.scalars(
                select(Product.id).where(Product.id.in_(product_ids), Product.deleted_at.is_(None))
            )
        )
        for call, event in unexplained:
            if call.user_id not in active:
                call.answer(_visit_over())
            elif event.product_id not in live:
                call.refused.append(EventError(event.index, _unknown_product(call, event.index)))
            else:
                raise _ChangedMeanwhile()

    async def _stored(
        self, connection: AsyncConnection, pairs: set[tuple[int, str | None]]
    ) -> dict[tuple[int, str | None], StoredEvent]:
        """The stored rows of (user id, client event id) `pairs`."""
        statement = select(*_COLUMNS).where(
            tuple_(Interaction.user_id, Interaction.client_event_id).in_(pairs)
        )
        found = (await connection.execute(statement)).all()
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


_INSERTED = "id, user_id, product_id, type, quantity, occurred_at, client_event_id"
# The group is one JSON array of [user id, product id, type, quantity, occurred at, key] rows:
# one parameter, encoded in C (asyncpg's array encoding cost more than the rest of the insert);
# PostgreSQL parses it once as jsonb.
_POSTGRESQL_INSERT = f"""
INSERT INTO interactions (user_id, product_id, type, quantity, occurred_at, client_event_id)
SELECT (e.value ->> 0)::integer, (e.value ->> 1)::integer, e.value ->> 2,
    (e.value ->> 3)::integer, (e.value ->> 4)::timestamp, e.value ->> 5
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e (value, n)
JOIN (
    SELECT id FROM users WHERE id = ANY($2::integer[]) AND merged_into_id IS NULL FOR SHARE
) AS u ON u.id = (e.value ->> 0)::integer
JOIN products AS p ON p.id = (e.value ->> 1)::integer AND p.deleted_at IS NULL
ORDER BY e.n
ON CONFLICT (user_id, client_event_id) DO NOTHING
RETURNING {_INSERTED}
"""
# SQLite: "WHERE true" keeps the upsert's ON from being read as a join constraint.
_SQLITE_INSERT = f"""
INSERT INTO interactions (user_id, product_id, type, quantity, occurred_at, client_event_id)
SELECT e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4, e.value ->> 5
FROM json_each(?) AS e
JOIN users AS u ON u.id = e.value ->> 0 AND u.merged_into_id IS NULL
JOIN products AS p ON p.id = e.value ->> 1 AND p.deleted_at IS NULL
WHERE true
ORDER BY e.key
ON CONFLICT (user_id, client_event_id) DO NOTHING
RETURNING {_INSERTED}
"""


async def _insert(
    connection: AsyncConnection, events: list[tuple[int, _Event]]
) -> list[int | None]:
    """Insert (user id, event) pairs in order with one statement at driver level (no ORM rows,
    no per-row parameters), skipping events of an ended visit or a product that is not live,
    and (user, client_event_id) pairs already stored. Per event: its new id, or None when it
    was skipped."""
    postgresql = connection.dialect.name == "postgresql"
    moment_text = datetime.isoformat if postgresql else _sqlite_moment(connection.dialect)
    values = [
        (user_id, e.product_id, e.type, e.quantity, moment_text(e.occurred_at), e.client_event_id)
        for user_id, e in events
    ]
    document = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    if postgresql:
        user_ids = sorted({user_id for user_id, _ in events})
        result = await connection.exec_driver_sql(_POSTGRESQL_INSERT, (document, user_ids))
    else:
        result = await connection.exec_driver_sql(_SQLITE_INSERT, (document,))
    # Rows come back in no promised order: a keyed event is matched by its (user, key), a
    # keyless one (never skipped as a duplicate) by its content, its time as sent.
    positions: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for position, row in enumerate(values):
        positions[row if row[5] is None else (row[0], row[5])].append(position)
    ids: list[int | None] = [None] * len(values)
    for id_, user_id, product_id, type_, quantity, occurred_at, key in result.all():
        if key is not None:
            match: tuple[Any, ...] = (user_id, key)
        else:
            sent = occurred_at if isinstance(occurred_at, str) else moment_text(occurred_at)
            match = (user_id, product_id, type_, quantity, sent, None)
        ids[positions[match].pop(0)] = id_
    return ids


@functools.cache
def _sqlite_moment(dialect: Dialect) -> Callable[[datetime], str]:
    """`occurred_at` as SQLAlchemy binds it on SQLite (text, in its format)."""
    column_type = Interaction.__table__.c.occurred_at.type
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return process  # type: ignore[no-any-return]


def _by_id(interaction: StoredEvent) -> int:
    return interaction.id


def _visit_over() -> ServiceError:
    return ServiceError(
        ErrorCode.UNAUTHENTICATED,
        "This visit has ended (it was merged into an account, or the account is gone): "
        "sign in again",
    )


def _unknown_product(call: _Call, index: int) -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, "No such product", call.field_name(index, "productId"))


class _ChangedMeanwhile(Exception):
    """A skipped event whose product and user look fine once asked (they changed while the
    group was written)."""
