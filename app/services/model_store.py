"""Sharing trained models between server processes through Redis.

One process trains (it holds a lock with an expiry), publishes the pickled model and bumps a
version number; the others load that model instead of training their own. Without `REDIS_URL`,
or while Redis is unreachable, every method is a no-op and each process trains for itself.
Redis must be trusted: models are pickled.
"""

import asyncio
import logging
import pickle
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis import asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
FAILURES = (RedisError, OSError, TimeoutError, pickle.UnpicklingError)
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class ModelStore:
    def __init__(self, redis_url: str | None, namespace: str = "recommender:model") -> None:
        self._client = (
            redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=0.5)
            if redis_url
            else None
        )
        self._blob = f"{namespace}:blob"
        self._version = f"{namespace}:version"
        self._lock = f"{namespace}:lock"

    @property
    def shared(self) -> bool:
        return self._client is not None

    async def latest_version(self) -> int | None:
        """The version of the published model, or None (nothing published, or no Redis)."""
        if self._client is None:
            return None
        try:
            value = await self._client.get(self._version)
        except FAILURES as error:
            log.warning("model store unavailable: %s", type(error).__name__)
            return None
        return int(value) if value is not None else None

    async def load(self) -> tuple[int, Any] | None:
        """(version, model) of the published model, unpickled in a worker thread."""
        if self._client is None:
            return None
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                version, blob = await pipe.get(self._version).get(self._blob).execute()
        except FAILURES as error:
            log.warning("model store unavailable: %s", type(error).__name__)
            return None
        if version is None or blob is None:
            return None
        try:
            return int(version), await asyncio.to_thread(pickle.loads, blob)
        except Exception:
            log.exception("published model could not be read; training locally")
            return None

    async def next_version(self) -> int | None:
        """A new, store-wide version number (None when there is no shared store)."""
        if self._client is None:
            return None
        try:
            return int(await self._client.incr(f"{self._version}:counter"))
        except FAILURES as error:
            log.warning("model store unavailable: %s", type(error).__name__)
            return None

    async def publish(self, version: int, model: Any) -> None:
        """Make `model` the published model under `version`."""
        if self._client is None:
            return
        blob = await asyncio.to_thread(pickle.dumps, model, pickle.HIGHEST_PROTOCOL)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                await pipe.set(self._blob, blob).set(self._version, version).execute()
        except FAILURES as error:
            log.warning("model not published: %s", type(error).__name__)

    @asynccontextmanager
    async def training_lock(self, seconds: int = 600) -> AsyncIterator[bool]:
        """Yields True when this process may train (it holds the lock, or there is no store)."""
        if self._client is None:
            yield True
            return
        token = uuid.uuid4().hex
        try:
            acquired = bool(await self._client.set(self._lock, token, nx=True, ex=seconds))
        except FAILURES:
            acquired = True
            token = ""
        try:
            yield acquired
        finally:
            if acquired and token:
                try:
                    await self._client.eval(RELEASE, 1, self._lock, token)
                except FAILURES:
                    log.warning("could not release the training lock; it expires by itself")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
