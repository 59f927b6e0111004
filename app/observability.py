"""Structured JSON logs with a per-request record that any layer can annotate.

`RequestLogMiddleware` gives every HTTP request an id (`X-Request-ID`, echoed back), and logs
one JSON line when it ends: method, path, status, duration, plus whatever the layers below
added with `annotate` (GraphQL operation name, user id, cache outcomes by layer).
"""

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_LOG: ContextVar[dict[str, Any] | None] = ContextVar("request_log", default=None)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
access_log = logging.getLogger("app.access")


def annotate(**fields: Any) -> None:
    """Add fields to the current request's log line (no-op outside a request)."""
    record = REQUEST_LOG.get()
    if record is not None:
        record.update(fields)


def annotate_cache(layer: str, outcome: str) -> None:
    record = REQUEST_LOG.get()
    if record is not None:
        record.setdefault("cache", {})[layer] = outcome


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = REQUEST_LOG.get()
        if request is not None and "request_id" in request:
            entry["request_id"] = request["request_id"]
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "uvicorn": {"handlers": [], "propagate": True},
        "uvicorn.error": {"handlers": [], "propagate": True},
        "uvicorn.access": {"handlers": [], "propagate": False},
        "alembic": {"level": "WARNING"},
    },
}
"""JSON lines on stderr for every logger (uvicorn's `log_config`, so workers get it too);
uvicorn's own access log is replaced by `RequestLogMiddleware`'s."""


class RequestLogMiddleware:
    """Pure ASGI middleware: request id, timing and the access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        record: dict[str, Any] = {"request_id": request_id}
        token = REQUEST_LOG.set(record)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            fields = {key: value for key, value in record.items() if key != "request_id"}
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    **fields,
                },
            )
            REQUEST_LOG.reset(token)
