"""Live updates: tells a customer's open subscriptions that their recommendations changed.

`LiveUpdates` is an `EventService` listener. Every committed group of events wakes the
subscriptions of its customers in this process at once (one small asyncio queue per
subscription), and, when `REDIS_URL` is set, is published on the Redis channel
`<REDIS_NAMESPACE>:events` (one message per group) so that the subscriptions held by every other
process sharing that Redis wake too.

Invariants:

* a notification carries only the customer's id; subscribers recompute their list, so
  notifications may be coalesced (a queue holds at most one pending wake-up) or duplicated;
* local delivery never waits for Redis: with Redis down, local events still push, a publish is
  skipped for `RETRY_AFTER_SECONDS` after a failure, and the listener reconnects with back-off;
* after the Redis listener (re)connects, every local subscriber is woken once, since events of
  other processes may have been missed meanwhile.

Message on the channel: JSON `{"users": [<customer id>, ...], "origin": <process token>}` (the
older `{"user": <id>, ...}` is still understood); a process ignores its own messages (it
delivered them locally already).
"""

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.services.events import StoredEvent

log = logging.getLogger(__name__)

REDIS_FAILURES = (RedisError, OSError, TimeoutError)
PUBLISH_TIMEOUT_SECONDS = 0.25
RETRY_AFTER_SECONDS = 5.0
SUBSCRIBE_WAIT_SECONDS = 0.5
HEALTH_CHECK_SECONDS = 10
POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 5.0


class LiveUpdates:
    """The per-process broker between recorded events and open subscriptions."""

    def __init__(self, redis_url: str | None = None, channel: str = "recommender:events") -> None:
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self._redis_url = redis_url
        self._queues: dict[int, set[asyncio.Queue[None]]] = defaultdict(set)
        self._publisher: redis.Redis | None = None
        self._publish_after = 0.0
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._closed = False

    @property
    def subscribers(self) -> int:
        """Open subscriptions in this process."""
        return sum(len(queues) for queues in self._queues.values())

    async def on_event(self, interactions: Sequence[StoredEvent]) -> None:
        """`EventService` listener: wake local subscribers, then tell the other processes (one
        publish per group, whatever its size)."""
        user_ids = sorted({interaction.user_id for interaction in interactions})
        for user_id in user_ids:
            self.notify_local(user_id)
        if user_ids:
            await self._publish(user_ids)

    def notify_local(self, user_id: int) -> None:
        """Wake every subscription of `user_id` in this process (coalesced, never blocks)."""
        for queue in self._queues.get(user_id, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def listen(self, user_id: int) -> AsyncIterator[asyncio.Queue[None]]:
        """A queue that receives one item (None) whenever `user_id`'s recommendations may have
        changed; registered before this yields, so no later event is missed. With Redis, waits
        up to `SUBSCRIBE_WAIT_SECONDS` for the channel subscription first."""
        queue: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._queues[user_id].add(queue)
        try:
            await self._ensure_listener()
            yield queue
        finally:
            queues = self._queues.get(user_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._queues[user_id]

    async def close(self) -> None:
        """Stop the Redis listener and release connections; wakes nobody."""
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._publisher is not None:
            with contextlib.suppress(*REDIS_FAILURES):
                await self._publisher.aclose()

    # --- Redis -----------------------------------------------------------------------------

    async def _publish(self, user_ids: list[int]) -> None:
        if self._redis_url is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._publish_after:
            return
        if self._publisher is None:
            self._publisher = redis.Redis.from_url(
                self._redis_url,
                socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
            )
        message = json.dumps({"users": user_ids, "origin": self.origin})
        try:
            await asyncio.wait_for(
                self._publisher.publish(self.channel, message), 2 * PUBLISH_TIMEOUT_SECONDS
            )
        except REDIS_FAILURES as error:
            self._publish_after = loop.time() + RETRY_AFTER_SECONDS
            log.warning(
                "live updates: publish to Redis failed (%s); other processes miss events for %g s",
                type(error).__name__,
                RETRY_AFTER_SECONDS,
            )

    async def _ensure_listener(self) -> None:
        if self._redis_url is None or self._closed:
            return
        if self._listener is None or self._listener.done():
            self._listening.clear()
            self._listener = asyncio.create_task(self._listen_forever())
        if not self._listening.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._listening.wait(), SUBSCRIBE_WAIT_SECONDS)

    async def _listen_forever(self) -> None:
        """Subscribe to the channel and deliver other processes' events; reconnect on failure."""
        assert self._redis_url is not None
        backoff = 0.25
        reconnecting = False
        while not self._closed:
            client = redis.Redis.from_url(
                self._redis_url,
                socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
                health_check_interval=HEALTH_CHECK_SECONDS,
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._listening.set()
                if reconnecting:
                    log.warning("live updates: Redis is reachable again")
                    for user_id in list(self._queues):
                        self.notify_local(user_id)
                reconnecting = False
                backoff = 0.25
                while True:
                    message = await pubsub.get_message(timeout=POLL_SECONDS)
                    if message is not None:
                        self._deliver(message.get("data"))
            except REDIS_FAILURES as error:
                self._listening.clear()
                if not reconnecting:
                    log.warning(
                        "live updates: Redis subscription lost (%s); local events still push",
                        type(error).__name__,
                    )
                reconnecting = True
            finally:
                with contextlib.suppress(*REDIS_FAILURES):
                    await pubsub.aclose()
                with contextlib.suppress(*REDIS_FAILURES):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF_SECONDS)

    def _deliver(self, data: object) -> None:
        try:
            payload = json.loads(data)  # type: ignore[arg-type]
            origin = str(payload["origin"])
            raw = payload["users"] if "users" in payload else [payload["user"]]
            user_ids = [int(user_id) for user_id in raw]
        except (TypeError, ValueError, KeyError):
            log.warning("live updates: ignored a malformed message on %s", self.channel)
            return
        if origin != self.origin:
            for user_id in user_ids:
                self.notify_local(user_id)
