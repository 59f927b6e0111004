"""Which published model of each engine config this API process serves; it never trains.

The registry polls the announcements (`model_versions`, one small query every
`MODEL_POLL_SECONDS`; with `REDIS_URL` a trainer's publish message wakes it at once), loads a
newer version in a worker thread (`engine.artifacts.load`: memory-mapped arrays, checksums,
shapes), and swaps it in with one assignment, so requests in flight keep the model they started
with. An artifact that fails verification is refused with a log line naming it, once; the
previous model keeps serving.
"""

import asyncio
import gc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from redis import asyncio as redis
from redis.exceptions import RedisError

from app.metrics import (
    MODEL_AGE,
    MODEL_CONFIG_VERSION,
    MODEL_LOAD_SECONDS,
    MODEL_LOADS,
    MODEL_REFUSED,
    MODEL_TRAINED_AT,
    MODEL_VERSION,
)
from app.services.artifact_store import Announcement, ArtifactStore, ModelAnnouncements
from app.settings import Settings
from engine.artifacts import ArtifactError
from engine.artifacts import load as load_artifact
from engine.recommender import Recommender

log = logging.getLogger(__name__)
SKUS = "product_skus"
DB_IDS = "product_db_ids"


@dataclass(frozen=True)
class LoadedModel:
    """A verified published model plus what maps it to the database; never mutated.

    `watermark` is the id of the newest event it was trained on; `trained_at` is aware UTC.
    """

    recommender: Recommender
    config: str
    version: int
    artifact: str
    watermark: int
    trained_at: datetime
    train_seconds: float
    events: int
    product_ids: dict[str, int]

    def db_ids(self, skus: Sequence[str]) -> list[int]:
        return [self.product_ids[sku] for sku in skus if sku in self.product_ids]


def configs_to_serve(settings: Settings) -> list[str]:
    """`default` and every config of the active experiment's variants, in that order."""
    active = settings.active_experiment
    names = ["default", *(variant.config for variant in active.variants)] if active else []
    return list(dict.fromkeys(names or ["default"]))


def publish_channel(settings: Settings) -> str:
    return f"{settings.redis_namespace}:models"


def read_model(announcement: Announcement, store: ArtifactStore) -> LoadedModel:
    """Load and verify the artifact of `announcement` (blocking: call in a worker thread)."""
    loaded = load_artifact(store.local(announcement.artifact), mmap=True)
    skus, db_ids = loaded.extra_arrays.get(SKUS), loaded.extra_arrays.get(DB_IDS)
    if skus is None or db_ids is None or skus.shape != db_ids.shape:
        raise ArtifactError(f"{announcement.artifact}: {SKUS} / {DB_IDS} missing or misaligned")
    metadata = loaded.manifest.get("metadata", {})
    return LoadedModel(
        recommender=loaded.recommender,
        config=announcement.config,
        version=announcement.version,
        artifact=announcement.artifact,
        watermark=announcement.watermark,
        trained_at=announcement.trained_at,
        train_seconds=float(metadata.get("train_seconds", 0.0)),
        events=int(metadata.get("events", 0)),
        product_ids=dict(zip(skus.tolist(), np.asarray(db_ids).tolist(), strict=True)),
    )


def _freeze() -> None:
    """Collect, then move every surviving object out of the collector's reach (`gc.freeze`) so
    that later collections stay short. Objects frozen before are not scanned again, which keeps
    this short too (a full collection of the process takes ~0.1 s, with the GIL held); a previous
    model is freed by reference counting when the last request using it ends."""
    gc.collect()
    gc.freeze()


class ModelRegistry:
    def __init__(
        self,
        settings: Settings,
        announcements: ModelAnnouncements,
        store: ArtifactStore,
    ) -> None:
        self._settings = settings
        self._announcements = announcements
        self._store = store
        self._configs = configs_to_serve(settings)
        self._models: dict[str, LoadedModel] = {}
        self._refused: set[tuple[str, int]] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._redis = (
            redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.5)
            if settings.redis_url
            else None
        )

    @property
    def configs(self) -> list[str]:
        return list(self._configs)

    def current(self, config: str = "default") -> LoadedModel | None:
        """The model serving `config` now; None until one was published and loaded."""
        return self._models.get(config)

    async def refresh(self) -> list[LoadedModel]:
        """Load every config's newest announced version that is newer than the one serving."""
        latest = await self._announcements.latest_versions(self._configs)
        swapped: list[LoadedModel] = []
        for config, version in latest.items():
            current = self._models.get(config)
            if (current and current.version >= version) or (config, version) in self._refused:
                continue
            model = await self._load(config, version)
            if model is not None:
                swapped.append(model)
        if swapped:
            await asyncio.to_thread(_freeze)
        return swapped

    async def _load(self, config: str, version: int) -> LoadedModel | None:
        announcement = await self._announcements.get(config, version)
        if announcement is None:
            return None
        started = time.perf_counter()
        try:
            await self._store.path(announcement.artifact)
            model = await asyncio.to_thread(read_model, announcement, self._store)
        except ArtifactError as error:
            self._refused.add((config, version))
            MODEL_REFUSED.inc()
            log.error(
                "model artifact refused; the previous model keeps serving",
                extra={"artifact": announcement.artifact, "version": version, "error": str(error)},
            )
            return None
        except OSError as error:
            log.warning(
                "model artifact not readable yet",
                extra={"artifact": announcement.artifact, "error": repr(error)},
            )
            return None
        seconds = time.perf_counter() - started
        previous = self._models.get(config)
        self._models = {**self._models, config: model}
        if previous is not None:
            await self._store.forget_local(previous.artifact)
        MODEL_LOAD_SECONDS.observe(seconds)
        MODEL_LOADS.labels(origin="shared").inc()
        MODEL_CONFIG_VERSION.labels(config=config).set(version)
        if config == "default":
            MODEL_VERSION.set(version)
        MODEL_TRAINED_AT.labels(config=config).set(model.trained_at.timestamp())
        MODEL_AGE.labels(config=config).set_function(
            lambda: (datetime.now(UTC) - model.trained_at).total_seconds()
        )
        log.info(
            "model loaded",
            extra={"config": config, "version": version, "load_seconds": round(seconds, 4)},
        )
        return model

    def start(self) -> None:
        """Poll for newer versions in the background until `close`."""
        if self._task is None:
            self._task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        listener = asyncio.create_task(self._listen()) if self._redis else None
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._settings.model_poll_seconds)
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    await self.refresh()
                except Exception as error:
                    log.warning("model poll failed", extra={"error": type(error).__name__})
        finally:
            if listener:
                listener.cancel()

    async def _listen(self) -> None:
        """Wake the poll loop on a trainer's publish message; polling covers a Redis outage."""
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(publish_channel(self._settings))
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except (RedisError, OSError, TimeoutError):
                await asyncio.sleep(5)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._redis is not None:
            await self._redis.aclose()
