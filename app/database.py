"""Where a session goes: writes to the primary, reads to a PostgreSQL read replica when one is fit.

`Database.writer()` is a session on the primary (`DATABASE_URL`). `Database.reader(user_ids)` is
a session on a replica of `DATABASE_REPLICA_URL` (taken in turn) that

* is up (passed its last health check, and connects now),
* lags at most `DATABASE_REPLICA_MAX_LAG_SECONDS`, and
* has applied every write of `user_ids` (read-your-writes: a customer's own reads);

else on the next such replica, else on the primary: a replica never adds an error of its own.

Positions in the WAL (LSNs) measure both. Every `DATABASE_REPLICA_CHECK_SECONDS` a health check
samples the primary's `pg_current_wal_lsn()` and then each replica's `pg_last_wal_replay_lsn()`.
A replica that has replayed the latest sample lags 0; one behind it lags the time since the
newest sample it has replayed (so a stalled replica is seen however idle the primary is), or,
before this process has such a sample, the age of the last transaction it replayed. After
a write, `wrote(user_ids)` keeps the primary's LSN as those users' watermark in the cache layer
`replica-watermarks` (Redis when `REDIS_URL` is set, so every process honours it); a replica
serves their reads again once its replayed LSN, as of its last check, has reached it. A replica
that fails a check or a connect is skipped and checked again after a doubling backoff (up to
`MAX_BACKOFF_SECONDS`), so a dead replica does not cost each request a connect timeout.

Without replicas, `reader()` is a session on the primary and `wrote()` does nothing.
"""

import asyncio
import contextlib
import contextvars
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as create_sqlalchemy_engine

from app.cache import Cache, build_cache
from app.db import OUTAGES, create_engine, create_session_factory
from app.metrics import DB_READ_FALLBACKS, DB_READS, DB_REPLICA_LAG
from app.settings import Settings

log = logging.getLogger(__name__)

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""`async with factory() as session:` — what `Database.writer` and `Database.reader` are."""

MAX_BACKOFF_SECONDS = 30.0
UNKNOWN_WRITE = 2**63 - 1
"""The watermark noted when the primary's LSN could not be read: the primary until it expires."""
# After a commit returns (synchronous_commit on, the default) its WAL is written: at or before
# the write position, which replay positions are comparable with.
CURRENT_LSN = text("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
REPLAYED_LSN = text(
    "SELECT pg_is_in_recovery(),"
    " (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0'::pg_lsn)::bigint,"
    " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
)
CONNECT_FAILURES = (DBAPIError, *OUTAGES)


class NotAStandby(Exception):
    """The replica URL leads to a server that is not in recovery (a primary)."""


@dataclass
class Replica:
    """One read replica and what its last health check found."""

    name: str  # host:port/database, never credentials
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    up: bool = False
    replayed: int = 0  # LSN it had replayed at its last check
    lag_seconds: float = math.inf
    failures: int = 0
    next_check: float = 0.0  # time.monotonic() of its next scheduled check

    def unfit(self, max_lag_seconds: float) -> str | None:
        """Why its last check rules it out for reads (`down`, `lag`), or None."""
        if not self.up:
            return "down"
        return "lag" if self.lag_seconds > max_lag_seconds else None

    def failed(self, error: BaseException, check_seconds: float) -> None:
        """Skip it until a check after a doubling backoff finds it up again."""
        if self.up or self.failures == 0:
            log.warning(
                "read replica unavailable; its reads go elsewhere",
                extra={"replica": self.name, "error": type(error).__name__},
            )
        self.up = False
        self.lag_seconds = math.inf
        self.failures += 1
        backoff = min(check_seconds * 2 ** (self.failures - 1), MAX_BACKOFF_SECONDS)
        self.next_check = time.monotonic() + backoff
        DB_REPLICA_LAG.labels(replica=self.name).set(math.inf)

    def passed(self, replayed: int, lag_seconds: float, check_seconds: float) -> None:
        if not self.up and self.failures:
            log.info("read replica back", extra={"replica": self.name})
        self.up, self.failures = True, 0
        self.replayed, self.lag_seconds = replayed, lag_seconds
        self.next_check = time.monotonic() + check_seconds
        DB_REPLICA_LAG.labels(replica=self.name).set(lag_seconds)


def replica_name(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


@dataclass
class _Samples:
    """Recent (monotonic time before the query, LSN) samples of the primary, oldest first."""

    samples: deque[tuple[float, int]]
    fresh: bool = False  # the latest sample was taken by the current check round

    def lag(self, replayed: int) -> float:
        """Seconds since the newest sample `replayed` covers (0: the round's own sample)."""
        for position, (at, lsn) in enumerate(reversed(self.samples)):
            if lsn <= replayed:
                return 0.0 if position == 0 and self.fresh else time.monotonic() - at
        return math.inf


class Database:
    """The primary and its read replicas; the one place that decides where a session goes.

    `engine` is the primary's (made from `settings` unless given; then the caller disposes of
    it); `writer` its session factory."""

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        self.settings = settings
        self._own_engine = engine is None
        self.engine = engine or create_engine(settings)
        self.writer = create_session_factory(self.engine)
        self.replicas = [self._replica(url) for url in settings.replica_urls]
        check = settings.database_replica_check_seconds
        max_lag = settings.database_replica_max_lag_seconds
        self._primary = _Samples(deque(maxlen=int(max_lag / check) + 3))
        # A watermark outlives any replica that is within the lag bound and not yet past it.
        self._watermark_ttl = math.ceil(max_lag + 2 * check) + 60
        self._watermarks: Cache | None = (
            build_cache(settings, "replica-watermarks") if self.replicas else None
        )
        self._turn = 0
        self._monitor: asyncio.Task[None] | None = None
        self._checked: asyncio.Event | None = None

    def _replica(self, url: str) -> Replica:
        engine = create_sqlalchemy_engine(
            url,
            pool_size=self.settings.db_pool_size,
            max_overflow=self.settings.db_pool_size,
            pool_pre_ping=True,
            pool_timeout=10,
            connect_args={"timeout": self.settings.database_replica_connect_timeout_seconds},
        )
        return Replica(replica_name(url), engine, create_session_factory(engine))

    async def close(self) -> None:
        """Stop the health checks; dispose of the replicas' pools (and the primary's, if made
        here)."""
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await monitor
        for replica in self.replicas:
            await replica.engine.dispose()
        if self._watermarks is not None:
            await self._watermarks.close()
        if self._own_engine:
            await self.engine.dispose()

    # --- reads -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def reader(self, user_ids: Iterable[int] = ()) -> AsyncIterator[AsyncSession]:
        """A session for reads that must see every write of `user_ids` (none: the catalog,
        the trainer): on a fit replica, else on the primary."""
        for replica, unfit in await self._in_turn(user_ids):
            if unfit is not None:
                DB_READ_FALLBACKS.labels(reason=unfit).inc()
                continue
            session = replica.sessions()
            try:
                async with asyncio.timeout(self.settings.database_replica_connect_timeout_seconds):
                    await session.connection()
            except CONNECT_FAILURES as error:
                await session.close()
                replica.failed(error, self.settings.database_replica_check_seconds)
                DB_READ_FALLBACKS.labels(reason="error").inc()
                continue
            DB_READS.labels(target="replica").inc()
            try:
                yield session
            except OUTAGES as error:  # it went away mid-read: this read fails, the next won't
                replica.failed(error, self.settings.database_replica_check_seconds)
                raise
            finally:
                await session.close()
            return
        DB_READS.labels(target="primary").inc()
        async with self.writer() as session:
            yield session

    async def _in_turn(self, user_ids: Iterable[int]) -> list[tuple[Replica, str | None]]:
        """Every replica, starting with the next one in turn, with the reason it is unfit for
        this read (`down`, `lag`, `own_write`), None when it is fit."""
        if not self.replicas:
            return []
        await self._ensure_monitor()
        start = self._turn = (self._turn + 1) % len(self.replicas)
        max_lag = self.settings.database_replica_max_lag_seconds
        ordered = [
            (replica, replica.unfit(max_lag))
            for replica in self.replicas[start:] + self.replicas[:start]
        ]
        users = sorted(set(user_ids))
        if users and any(unfit is None for _, unfit in ordered):
            needed = await self._watermark(users)
            ordered = [
                (replica, "own_write" if unfit is None and replica.replayed < needed else unfit)
                for replica, unfit in ordered
            ]
        return ordered

    async def _watermark(self, user_ids: list[int]) -> int:
        """The LSN of the newest write of `user_ids` still noted (0: none)."""
        assert self._watermarks is not None
        values = await self._watermarks.multi_get([f"lsn:{user_id}" for user_id in user_ids])
        return max((int(value) for value in values if value is not None), default=0)

    # --- writes ----------------------------------------------------------------------------

    async def wrote(self, user_ids: Iterable[int]) -> None:
        """Note that `user_ids` have just committed a write: their reads stay on the primary
        until a replica has applied it. Call after the commit, before answering the client."""
        users = sorted(set(user_ids))
        if self._watermarks is None or not users:
            return
        try:
            async with self.engine.connect() as connection:
                lsn = int((await connection.execute(CURRENT_LSN)).scalar_one())
        except CONNECT_FAILURES as error:
            log.warning("primary WAL position unknown", extra={"error": type(error).__name__})
            lsn = UNKNOWN_WRITE
        await self._watermarks.multi_set(
            [(f"lsn:{user_id}", lsn) for user_id in users], ttl=self._watermark_ttl
        )

    # --- health checks ---------------------------------------------------------------------

    async def check(self) -> None:
        """Check every replica now: is it up, how far has it replayed, how far behind is it."""
        await self._check(self.replicas)

    async def _check(self, replicas: list[Replica]) -> None:
        if not replicas:
            return
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.settings.database_replica_connect_timeout_seconds):
                async with self.engine.connect() as connection:
                    lsn = int((await connection.execute(CURRENT_LSN)).scalar_one())
            self._primary.samples.append((started, lsn))
            self._primary.fresh = True
        except CONNECT_FAILURES:  # no new sample: the replicas' lag grows until it returns
            self._primary.fresh = False
        await asyncio.gather(*(self._check_replica(replica) for replica in replicas))

    async def _check_replica(self, replica: Replica) -> None:
        check_seconds = self.settings.database_replica_check_seconds
        try:
            async with asyncio.timeout(self.settings.database_replica_connect_timeout_seconds):
                async with replica.engine.connect() as connection:
                    standby, replayed, replay_age = (await connection.execute(REPLAYED_LSN)).one()
            if not standby:
                raise NotAStandby(replica.name)
        except (*CONNECT_FAILURES, NotAStandby) as error:
            replica.failed(error, check_seconds)
            return
        lag = self._primary.lag(int(replayed))
        if math.isinf(lag) and replay_age is not None:  # no sample of ours is that old yet
            lag = max(0.0, float(replay_age))
        replica.passed(int(replayed), lag, check_seconds)

    async def _ensure_monitor(self) -> None:
        """Start the background checks on first use; the first round is awaited."""
        if self._monitor is None or self._monitor.done():
            self._checked = asyncio.Event()
            # A context of its own: its log lines are no request's.
            self._monitor = asyncio.create_task(
                self._watch(self._checked), context=contextvars.Context()
            )
        assert self._checked is not None
        await self._checked.wait()

    async def _watch(self, checked: asyncio.Event) -> None:
        """Check every replica now, then each one again when it is due."""
        try:
            await self.check()
        finally:
            checked.set()
        while True:
            await asyncio.sleep(self.settings.database_replica_check_seconds)
            now = time.monotonic()
            try:
                await self._check([r for r in self.replicas if r.next_check <= now])
            except Exception:
                log.exception("read replica check failed")
