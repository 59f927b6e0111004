"""One place for "Redis went away": fall back at once, probe again after a cool-down."""

import logging
import time


class RedisOutage:
    """The health of one Redis client, as seen by its callers.

    After a failure, `usable()` is False for `retry_after` seconds, then True for exactly one
    caller (the probe). A failure logs one warning per outage; the first success after it logs
    the recovery, both on the owner's `logger`.
    """

    def __init__(self, name: str, retry_after: float, logger: logging.Logger) -> None:
        self.name = name
        self.retry_after = retry_after
        self.log = logger
        self.down = False
        self._probe_at = 0.0

    def usable(self) -> bool:
        if not self.down:
            return True
        now = time.monotonic()
        if now < self._probe_at:
            return False
        self._probe_at = now + self.retry_after
        return True

    def failed(self, error: BaseException) -> None:
        self._probe_at = time.monotonic() + self.retry_after
        if not self.down:
            self.down = True
            self.log.warning(
                "%s: Redis unavailable (%s: %s); using memory, retrying every %g s",
                self.name,
                type(error).__name__,
                error,
                self.retry_after,
            )

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            self.log.warning("%s: Redis is reachable again", self.name)
