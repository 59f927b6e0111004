"""The trainer: the only process that fits models (`recommender trainer`, `recommender train`).

A round reads the live catalog and every event from the database, fits each engine config that
serving needs (`default` and the active experiment's variant configs) and publishes each as a
versioned artifact (see app/services/artifact_store.py). The trainer loop checks every
`TRAINER_POLL_SECONDS` whether a config is stale: no model yet, older than `MODEL_TTL_SECONDS`,
or `MODEL_RETRAIN_EVENTS` events newer than its watermark. Only the holder of the trainer lease
trains and publishes; another trainer waits for it and then finds the models fresh.
"""

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from redis import asyncio as redis
from redis.exceptions import RedisError
from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import Database, SessionFactory
from app.db import create_engine, create_session_factory, wait_for_database
from app.metrics import MODEL_FITS, MODEL_TRAINING, TRAINER_ROUND
from app.models import Interaction, Product
from app.services.artifact_store import ArtifactStore, ModelAnnouncements, TrainerLease
from app.services.model_registry import DB_IDS, SKUS, configs_to_serve, publish_channel
from app.services.users import delete_idle_visitors
from app.settings import Settings
from engine import artifacts
from engine.config import CONFIGS, EngineConfig
from engine.data import Catalog, Events
from engine.events import TYPE_CODES
from engine.recommender import Recommender

log = logging.getLogger(__name__)
FETCH_PARTITION = 20_000
VISITOR_CLEANUP_SECONDS = 3600.0  # how often the trainer deletes idle visitors


@dataclass(frozen=True)
class TrainingData:
    """The live catalog, every event of a live product, db ids by sku, and the newest event id."""

    catalog: Catalog
    events: Events
    product_ids: dict[str, int]
    watermark: int


@dataclass(frozen=True)
class Published:
    config: str
    version: int
    artifact: str
    fit_seconds: float
    events: int


class _EventColumns:
    """Events appended a partition at a time as typed numpy columns (no Python object per event
    survives a partition): db user ids (int64), catalog positions (int32), type codes (int8),
    quantities (int32), timestamps (datetime64[s]). Memory: ~25 bytes per event."""

    def __init__(self, position_of: np.ndarray, type_names: tuple[str, ...]) -> None:
        self._position_of = position_of
        self._type_names = type_names
        self._code_of = {name: code for code, name in enumerate(type_names)}
        self._parts: list[tuple[np.ndarray, ...]] = []
        self.watermark = 0

    def add(self, rows: Sequence[Any]) -> None:
        """Append one partition of (id, user_id, product_id, type, quantity, occurred_at) rows."""
        if not rows:
            return
        ids, users, products, kinds, quantities, times = zip(*rows, strict=True)
        self.watermark = max(self.watermark, int(ids[-1]))
        product = np.fromiter(products, np.int64, len(products))
        inside = product < len(self._position_of)
        position = np.full(len(product), -1, dtype=np.int32)
        position[inside] = self._position_of[product[inside]]
        keep = position >= 0
        codes = np.fromiter((self._code_of.get(k, -1) for k in kinds), np.int8, len(kinds))
        self._parts.append(
            (
                np.fromiter(users, np.int64, len(users))[keep],
                position[keep],
                codes[keep],
                np.fromiter(quantities, np.int32, len(quantities))[keep],
                np.array(times, dtype="datetime64[s]")[keep],
            )
        )

    def events(self, skus: np.ndarray) -> Events:
        """The engine's Events of everything added (user ids as decimal strings, product ids as
        skus), in the order added."""
        if not self._parts:
            return Events.empty()
        users, positions, codes, quantities, times = (
            np.concatenate(column) for column in zip(*self._parts, strict=True)
        )
        self._parts = []
        names = np.array([*self._type_names, ""], dtype=str)
        width = len(str(int(users.max()))) if len(users) else 1
        return Events(
            user_ids=users.astype(f"<U{width}"),
            product_ids=skus[positions],
            types=names[codes],
            quantities=quantities.astype(np.int64),
            timestamps=times,
        )


async def read_training_data(sessions: SessionFactory) -> TrainingData:
    """Live products and every event of a live product, streamed in partitions of
    FETCH_PARTITION rows into numpy columns (a server-side cursor on PostgreSQL; from a read
    replica when `sessions` is `Database.reader` and one is fit)."""
    async with sessions() as session:
        products = (
            await session.execute(
                select(
                    Product.id,
                    Product.sku,
                    Product.name,
                    Product.description,
                    Product.category,
                    Product.tags,
                    Product.price,
                )
                .where(Product.deleted_at.is_(None))
                .order_by(Product.id)
            )
        ).all()
        db_ids = np.array([row.id for row in products], dtype=np.int64)
        position_of = np.full(int(db_ids.max()) + 1 if len(db_ids) else 0, -1, dtype=np.int32)
        position_of[db_ids] = np.arange(len(db_ids), dtype=np.int32)
        columns = _EventColumns(position_of, tuple(TYPE_CODES))
        stream = await session.stream(
            select(
                Interaction.id,
                Interaction.user_id,
                Interaction.product_id,
                Interaction.type,
                Interaction.quantity,
                type_coerce(Interaction.occurred_at, String),
            )
            .order_by(Interaction.id)
            .execution_options(yield_per=FETCH_PARTITION)
        )
        async for partition in stream.partitions(FETCH_PARTITION):
            columns.add(partition)
    skus = np.array([row.sku for row in products], dtype=str)
    catalog = Catalog(
        product_ids=skus,
        names=np.array([row.name for row in products], dtype=str),
        descriptions=np.array([row.description or "" for row in products], dtype=str),
        categories=np.array([row.category or "" for row in products], dtype=str),
        tags=np.array([";".join(row.tags or []) for row in products], dtype=str),
        prices=np.array([float(row.price) for row in products], dtype=np.float64),
    )
    events = columns.events(skus)
    return TrainingData(catalog, events, {row.sku: row.id for row in products}, columns.watermark)


def engine_config(config: str, settings: Settings) -> EngineConfig:
    """The engine config named `config` with the shop's settings applied (the distinct
    customers a product needs to trend: `TRENDING_MIN_CUSTOMERS`)."""
    return dataclasses.replace(CONFIGS[config], trend_min_customers=settings.trending_min_customers)


def _fit_and_save(
    config: EngineConfig, data: TrainingData, staged: Path, version: int
) -> tuple[float, dict[str, Any]]:
    """Fit `config` and write its artifact into `staged` (blocking: run in a worker thread);
    returns (fit seconds, manifest)."""
    started = time.perf_counter()
    recommender = Recommender(config).fit(data.catalog, data.events)
    seconds = time.perf_counter() - started
    skus = np.asarray(data.catalog.product_ids, dtype=str)
    manifest = artifacts.save(
        recommender,
        staged,
        metadata={
            "config": config.name,
            "version": version,
            "watermark": data.watermark,
            "trained_at": datetime.now(UTC).isoformat(),
            "train_seconds": round(seconds, 3),
            "events": len(data.events),
        },
        extra_arrays={
            SKUS: skus,
            DB_IDS: np.array([data.product_ids[sku] for sku in skus.tolist()], dtype=np.int64),
        },
    )
    return seconds, manifest


class Trainer:
    """Trains and publishes the models serving needs; one round at a time."""

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        self._settings = settings
        self._own_engine = engine is None
        self.engine = engine or create_engine(settings)
        self._sessions = create_session_factory(self.engine)
        self._database = Database(settings, self.engine)  # event loads: a replica when fit
        self.announcements = ModelAnnouncements(self._sessions)
        self.store = ArtifactStore(settings, self._sessions)
        self._lease = TrainerLease(self._sessions, settings.trainer_lock_seconds)
        self.configs = configs_to_serve(settings)
        self._next_visitor_cleanup = 0.0  # time.monotonic() of the next idle-visitor cleanup

    async def close(self) -> None:
        await self._database.close()
        if self._own_engine:
            await self.engine.dispose()

    async def stale_configs(self) -> list[str]:
        """Configs without a model, with one older than the TTL, or behind by enough events."""
        async with self._sessions() as session:
            newest_event = await session.scalar(select(func.max(Interaction.id))) or 0
        stale = []
        now = datetime.now(UTC)
        for config in self.configs:
            latest = await self.announcements.latest(config)
            if (
                latest is None
                or (now - latest.trained_at).total_seconds() >= self._settings.model_ttl_seconds
                or await self._events_after(latest.watermark, newest_event)
                >= self._settings.model_retrain_events
            ):
                stale.append(config)
        return stale

    async def _events_after(self, watermark: int, newest_event: int) -> int:
        """Events with an id above `watermark`; ids only grow, so max(id) bounds it cheaply."""
        if newest_event - watermark < self._settings.model_retrain_events:
            return max(0, newest_event - watermark)
        async with self._sessions() as session:
            statement = select(func.count()).where(Interaction.id > watermark)
            return int(await session.scalar(statement) or 0)

    @contextlib.asynccontextmanager
    async def _leased(self, wait: bool) -> AsyncIterator[bool]:
        """Hold the trainer lease (renewed in the background) or yield False without it."""
        while not await self._lease.acquire():
            if not wait:
                yield False
                return
            await asyncio.sleep(min(self._settings.trainer_poll_seconds, 1.0))

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._settings.trainer_lock_seconds / 3)
                if not await self._lease.acquire():
                    log.error("trainer lease lost to another trainer")

        renewer = asyncio.create_task(renew())
        try:
            yield True
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            await self._lease.release()

    async def round(self, force: bool = False, wait: bool = False) -> list[Published] | None:
        """Train and publish the stale configs (every config when `force`); None when another
        trainer holds the lease and `wait` is False."""
        if not force and not await self.stale_configs():
            return []
        async with self._leased(wait) as leased:
            if not leased:
                return None
            stale = self.configs if force else await self.stale_configs()
            if not stale:
                return []
            started = time.perf_counter()
            data = await read_training_data(self._database.reader)
            published = [await self._publish(config, data) for config in stale]
            seconds = time.perf_counter() - started
            TRAINER_ROUND.observe(seconds)
            log.info(
                "trainer round published",
                extra={
                    "configs": [p.config for p in published],
                    "versions": [p.version for p in published],
                    "seconds": round(seconds, 3),
                    "events": len(data.events),
                },
            )
        await self._notify()
        return published

    async def _publish(self, config: str, data: TrainingData) -> Published:
        latest = await self.announcements.latest(config)
        version = (latest.version if latest else 0) + 1
        artifact = f"{config}/{version:06d}-{os.urandom(4).hex()}"
        staged = self.store.staging()
        try:
            seconds, manifest = await asyncio.to_thread(
                _fit_and_save, engine_config(config, self._settings), data, staged, version
            )
            MODEL_FITS.inc()
            MODEL_TRAINING.observe(seconds)
            await self.store.put(artifact, staged)
        except BaseException:
            await asyncio.to_thread(_remove, staged)
            raise
        info = manifest.get("metadata", {})
        await self.announcements.announce(
            config,
            version,
            artifact,
            data.watermark,
            datetime.fromisoformat(info["trained_at"]),
            {**info, "format_version": manifest.get("format_version")},
        )
        log.info(
            "model published",
            extra={
                "config": config,
                "version": version,
                "artifact": artifact,
                "fit_seconds": round(seconds, 3),
                "events": len(data.events),
            },
        )
        await self.store.remove(
            await self.announcements.superseded(config, self._settings.model_keep_versions)
        )
        return Published(config, version, artifact, seconds, len(data.events))

    async def _notify(self) -> None:
        """Tell API processes at once (Redis pub/sub); they poll the database anyway."""
        if not self._settings.redis_url:
            return
        client = redis.Redis.from_url(self._settings.redis_url, socket_connect_timeout=0.5)
        try:
            await client.publish(publish_channel(self._settings), "published")
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("publish message not sent", extra={"error": type(error).__name__})
        finally:
            await client.aclose()

    async def forget_idle_visitors(self) -> int:
        """Delete visitors whose token expired and who left no events or impressions (a bot
        calling `startVisit` leaves only such rows); how many were deleted."""
        deleted = await delete_idle_visitors(self._sessions, self._settings.visitor_token_ttl_days)
        if deleted:
            log.info("idle visitors deleted", extra={"visitors": deleted})
        return deleted

    async def run(self, stop: asyncio.Event, parent_pid: int | None = None) -> None:
        """Rounds until `stop` is set (or the parent process `parent_pid` is gone)."""
        await wait_for_database(self.engine, self._settings.db_connect_retries)
        self.store.clean_staging()
        while not stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.info("the serving process is gone; trainer stops")
                return
            try:
                await self.round()
            except Exception:
                log.exception("trainer round failed; the published models keep serving")
            if time.monotonic() >= self._next_visitor_cleanup:
                self._next_visitor_cleanup = time.monotonic() + VISITOR_CLEANUP_SECONDS
                try:
                    await self.forget_idle_visitors()
                except Exception:
                    log.exception("deleting idle visitors failed; the next hour tries again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.trainer_poll_seconds)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


async def train_once(settings: Settings) -> list[Published]:
    """One forced round (waits for the lease): `recommender train`, tests and benchmarks."""
    trainer = Trainer(settings)
    try:
        published = await trainer.round(force=True, wait=True)
    finally:
        await trainer.close()
    return published or []


async def run_trainer(settings: Settings, parent_pid: int | None = None) -> None:
    """`recommender trainer`: rounds until SIGTERM / SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if settings.trainer_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.trainer_metrics_port)
    trainer = Trainer(settings)
    log.info("trainer started", extra={"configs": trainer.configs})
    try:
        await trainer.run(stop, parent_pid)
    finally:
        await trainer.close()
