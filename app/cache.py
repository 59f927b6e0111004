"""Named cache layers over aiocache: Redis when `REDIS_URL` is set, else process memory.

A layer never lets a Redis failure reach the request: on a Redis error or timeout it logs one
warning per outage, serves that layer from process memory, and probes Redis again (one request)
after a cool-down. Every `get` counts a hit or miss in `recommender_cache_requests_total`.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from aiocache import Cache as AioCache
from aiocache.base import BaseCache
from aiocache.serializers import PickleSerializer
from redis.exceptions import RedisError

from app.metrics import CACHE_REQUESTS
from app.observability import annotate_cache
from app.redis_outage import RedisOutage
from app.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS_TIMEOUT_SECONDS = 0.25
REDIS_RETRY_AFTER_SECONDS = 5.0
REDIS_FAILURES = (RedisError, OSError, TimeoutError)


def redis_options(redis_url: str, timeout_seconds: float) -> dict[str, Any]:
    """aiocache `RedisCache` keyword arguments for a `redis://` or `rediss://` URL.

    `redis://[[user]:password@]host[:port][/db]`; port defaults to 6379 and db to 0. Connecting and
    each socket read are bounded by `timeout_seconds`.
    """
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must start with redis:// or rediss://, got {parts.scheme!r}")
    database = parts.path.strip("/") or "0"
    pool_options: dict[str, Any] = {"socket_timeout": timeout_seconds}
    if parts.username:
        pool_options["username"] = unquote(parts.username)
    return {
        "endpoint": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
        "db": int(database),
        "password": unquote(parts.password) if parts.password else None,
        "ssl": parts.scheme == "rediss",
        "create_connection_timeout": timeout_seconds,
        "connection_pool_kwargs": pool_options,
    }


class Cache:
    """One named layer ("explanations", "recommendations", ...) of the shared cache.

    Keys are strings, stored in Redis as `<namespace>:<key>` (namespace defaults to
    `recommender:<layer>`). Values must be picklable and not None (`get` returns None for a
    miss); memory values are the stored objects themselves, so treat them as immutable. `ttl` is
    in seconds, None keeps the entry until evicted. The memory store is unbounded and per process.
    """

    def __init__(
        self,
        layer: str,
        redis_url: str | None = None,
        *,
        namespace: str | None = None,
        redis_timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
        redis_retry_after_seconds: float = REDIS_RETRY_AFTER_SECONDS,
    ) -> None:
        self.layer = layer
        self.namespace = namespace or f"recommender:{layer}"
        self._memory: BaseCache = AioCache(
            AioCache.MEMORY, namespace=f"{self.namespace}:", timeout=None
        )
        self._redis: BaseCache | None = None
        if redis_url:
            self._redis = AioCache(
                AioCache.REDIS,
                namespace=self.namespace,
                serializer=PickleSerializer(),
                timeout=2 * redis_timeout_seconds,
                **redis_options(redis_url, redis_timeout_seconds),
            )
        self._outage = RedisOutage(f"cache layer {layer}", redis_retry_after_seconds, log)

    @property
    def backend(self) -> str:
        """The store in use now: "redis" unless Redis is unset or in an outage, then "memory"."""
        return "redis" if self._redis is not None and not self._outage.down else "memory"

    async def get(self, key: str, *, counted: bool = True) -> Any | None:
        """The value stored under `key`, or None on a miss (also for an unreadable entry).
        `counted=False`: a bookkeeping read (a generation token), not a hit or a miss."""
        try:
            value = await self._call(lambda store: store.get(key))
        except Exception:
            log.warning("cache layer %s: unreadable entry, treated as a miss", self.layer)
            value = None
        if not counted:
            return value
        outcome = "miss" if value is None else "hit"
        CACHE_REQUESTS.labels(layer=self.layer, outcome=outcome).inc()
        annotate_cache(self.layer, outcome)
        return value

    async def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        """Store `value` under `key` for `ttl` seconds (None: no expiry)."""
        await self._call(lambda store: store.set(key, value, ttl=ttl))

    async def multi_get(self, keys: Sequence[str]) -> list[Any | None]:
        """The values under `keys`, in order (None for each miss), in one round trip."""
        if not keys:
            return []
        try:
            values = await self._call(lambda store: store.multi_get(list(keys)))
        except Exception:
            log.warning("cache layer %s: unreadable entries, treated as misses", self.layer)
            values = [None] * len(keys)
        for value in values:
            outcome = "miss" if value is None else "hit"
            CACHE_REQUESTS.labels(layer=self.layer, outcome=outcome).inc()
        return list(values)

    async def multi_set(self, pairs: Sequence[tuple[str, Any]], ttl: int | None = None) -> None:
        """Store every (key, value) of `pairs` for `ttl` seconds, in one round trip."""
        if pairs:
            await self._call(lambda store: store.multi_set(list(pairs), ttl=ttl))

    async def delete(self, key: str) -> None:
        await self._call(lambda store: store.delete(key))

    async def close(self) -> None:
        """Release the Redis connection pool; the layer stays usable and reconnects on demand."""
        if self._redis is not None:
            try:
                await self._redis.close()
            except REDIS_FAILURES:
                log.debug("cache layer %s: error while closing Redis", self.layer, exc_info=True)

    async def _call(self, operation: Callable[[BaseCache], Awaitable[T]]) -> T:
        if self._redis is None or not self._outage.usable():
            return await operation(self._memory)
        try:
            result = await operation(self._redis)
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return await operation(self._memory)
        self._outage.succeeded()
        return result


def build_cache(settings: Settings, layer: str) -> Cache:
    """The `layer` cache: Redis at `settings.redis_url` if set, else process memory."""
    return Cache(layer, settings.redis_url, namespace=f"{settings.redis_namespace}:{layer}")
