"""Per-client token buckets of query-cost points: in process memory, or shared through Redis.

A bucket holds at most `points_per_minute` points and refills continuously at that rate; a
request takes its query cost out of it, or is refused with the seconds until enough points are
back. With `REDIS_URL` set, the bucket lives in Redis and is updated atomically by one Lua script
(Redis' clock, so several server processes share it exactly); when Redis fails, the limiter logs
one warning per outage, uses its memory buckets meanwhile, and probes Redis again after a
cool-down — requests are never refused or slowed down by a Redis outage.
"""

import logging
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.redis_outage import RedisOutage
from app.settings import Settings

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.25
REDIS_RETRY_AFTER_SECONDS = 5.0
REDIS_FAILURES = (RedisError, OSError, TimeoutError)
MAX_MEMORY_BUCKETS = 100_000

# KEYS[1] bucket; ARGV capacity, refill points per second, cost. Returns
# {allowed (0/1), remaining points, seconds until `cost` points are available}.
TOKEN_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return {allowed, tostring(tokens), tostring(wait)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float
    retry_after: float  # seconds until the refused cost would fit; 0 when allowed


class RateLimiter(Protocol):
    async def charge(self, key: str, cost: int) -> Decision: ...

    async def close(self) -> None: ...


class MemoryTokenBucket:
    """Buckets in this process (one asyncio loop: each update is atomic)."""

    def __init__(self, points_per_minute: int) -> None:
        self.capacity = float(points_per_minute)
        self.rate = points_per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}

    async def charge(self, key: str, cost: int) -> Decision:
        return self.charge_now(key, cost)

    def charge_now(self, key: str, cost: int) -> Decision:
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - at) * self.rate)
        if tokens >= cost:
            tokens -= cost
            decision = Decision(True, tokens, 0.0)
        else:
            decision = Decision(False, tokens, (cost - tokens) / self.rate)
        if key not in self._buckets and len(self._buckets) >= MAX_MEMORY_BUCKETS:
            self._forget_full_buckets(now)
        self._buckets[key] = (tokens, now)
        return decision

    def _forget_full_buckets(self, now: float) -> None:
        """Drop buckets that have refilled (they equal a new bucket); bounds memory."""
        refill_seconds = self.capacity / self.rate
        for key, (_, at) in list(self._buckets.items()):
            if now - at >= refill_seconds:
                del self._buckets[key]
        if len(self._buckets) >= MAX_MEMORY_BUCKETS:  # still full: forget the oldest half
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]

    async def close(self) -> None:
        return None


class RedisTokenBucket:
    """Buckets in Redis under `<prefix>:<client key>`; memory buckets during an outage."""

    def __init__(
        self,
        points_per_minute: int,
        redis_url: str,
        prefix: str,
        *,
        timeout_seconds: float = REDIS_TIMEOUT_SECONDS,
        retry_after_seconds: float = REDIS_RETRY_AFTER_SECONDS,
    ) -> None:
        self.capacity = points_per_minute
        self.rate = points_per_minute / 60.0
        self.prefix = prefix
        self.fallback = MemoryTokenBucket(points_per_minute)
        self._redis = aioredis.from_url(
            redis_url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry_on_timeout=False,
        )
        self._script = self._redis.register_script(TOKEN_BUCKET_LUA)
        self._outage = RedisOutage("rate limiter", retry_after_seconds, log)

    @property
    def backend(self) -> str:
        return "memory" if self._outage.down else "redis"

    async def charge(self, key: str, cost: int) -> Decision:
        if not self._outage.usable():
            return self.fallback.charge_now(key, cost)
        try:
            allowed, remaining, wait = await self._script(
                keys=[f"{self.prefix}:{key}"], args=[self.capacity, self.rate, cost]
            )
        except REDIS_FAILURES as error:
            self._outage.failed(error)
            return self.fallback.charge_now(key, cost)
        self._outage.succeeded()
        return Decision(bool(int(allowed)), float(remaining), float(wait))

    async def close(self) -> None:
        try:
            await self._redis.aclose()
        except REDIS_FAILURES:
            log.debug("rate limiter: error while closing Redis", exc_info=True)


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """None when `RATE_LIMIT_POINTS_PER_MINUTE` is 0; Redis buckets when `REDIS_URL` is set."""
    if settings.rate_limit_points_per_minute <= 0:
        return None
    if settings.redis_url:
        return RedisTokenBucket(
            settings.rate_limit_points_per_minute,
            settings.redis_url,
            settings.rate_limit_key_prefix,
        )
    return MemoryTokenBucket(settings.rate_limit_points_per_minute)
