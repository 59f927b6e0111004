"""Database engine and session factory (SQLAlchemy 2 async) for SQLite and PostgreSQL."""

import asyncio
import logging
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.errors import ErrorCode, ServiceError
from app.settings import Settings

log = logging.getLogger(__name__)
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable; please try again shortly"
OUTAGES = (OperationalError, InterfaceError, PoolTimeoutError, OSError, TimeoutError)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(settings: Settings) -> AsyncEngine:
    """An async engine: SQLite with WAL, foreign keys, busy timeout and `synchronous=FULL` (a
    commit is on disk when it returns, as on PostgreSQL; group commit pays one fsync per group);
    PostgreSQL pooled."""
    url = settings.database_url
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_timeout=10,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def unavailable_error(error: BaseException | None) -> ServiceError | None:
    """SERVICE_UNAVAILABLE, without detail, when `error` says the database (or another
    dependency over the network) cannot be reached; None for every other error."""
    if isinstance(error, OUTAGES):
        return ServiceError(ErrorCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
    return None


async def ping(engine: AsyncEngine) -> None:
    """Raise when the database does not answer `SELECT 1`."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def wait_for_database(engine: AsyncEngine, retries: int, delay_seconds: float = 1.0) -> None:
    """Ping with bounded retries and doubling delay (capped at 5 s); re-raise the last failure."""
    for attempt in range(retries + 1):
        try:
            await ping(engine)
            return
        except Exception as exc:
            if attempt == retries:
                raise
            log.warning(
                "database not reachable, retrying",
                extra={"attempt": attempt + 1, "error": type(exc).__name__},
            )
            await asyncio.sleep(delay_seconds)
            delay_seconds = min(delay_seconds * 2, 5.0)
