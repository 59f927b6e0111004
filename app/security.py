"""HTTP-level protections: production start-up checks, request body limit, CORS allow-list,
security headers, and the 429 mapping of rate-limited GraphQL responses.

`security_middleware(settings)` is the middleware list `create_app` installs, outermost first:
security headers (on every response, also on refusals), CORS (the `CORS_ORIGINS` allow-list),
then the body size limit (413 before the app reads anything larger than `MAX_BODY_BYTES`).
GraphQL batching (a JSON array body) stays off: Strawberry refuses it with 400.
"""

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import weak_secret_reason
from app.errors import ErrorCode
from app.settings import Settings

PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"

# For the Vite-built React app served from this origin: its scripts, styles and fonts come
# from here; product images may be absolute URLs elsewhere (https) or data: URIs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def check_production_settings(settings: Settings) -> None:
    """Raise RuntimeError when production settings are unsafe (a weak or default JWT_SECRET)."""
    if settings.is_production and (reason := weak_secret_reason(settings)):
        raise RuntimeError(f"refusing to start in production: {reason}")


def cors_origins(settings: Settings) -> list[str]:
    """`CORS_ORIGINS` as a list: comma-separated origins such as `https://shop.example`."""
    return [
        origin.strip().rstrip("/") for origin in settings.cors_origins.split(",") if origin.strip()
    ]


def security_middleware(settings: Settings) -> list[Middleware]:
    return [
        Middleware(SecurityHeadersMiddleware, production=settings.is_production),
        Middleware(
            CORSMiddleware,
            allow_origins=cors_origins(settings),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "accept"],
            expose_headers=["retry-after"],
            allow_credentials=False,  # bearer tokens, no cookies
            max_age=600,
        ),
        Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
    ]


def _error_body(message: str, code: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


class BodySizeLimitMiddleware:
    """413 for request bodies above `max_bytes` (by Content-Length, or counted while read).

    The body is read here (at most `max_bytes`) and handed to the app in one message.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = _error_body(
            f"The request body is larger than {self.max_bytes} bytes", PAYLOAD_TOO_LARGE
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    """Security headers on every HTTP response, the strict CSP included (GraphiQL too: it is
    built into web/dist and loads nothing from elsewhere); HSTS in production."""

    def __init__(self, app: ASGIApp, production: bool) -> None:
        self.app = app
        self.headers = dict(BASE_HEADERS, **{"content-security-policy": CONTENT_SECURITY_POLICY})
        if production:
            self.headers["strict-transport-security"] = HSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                for name, value in self.headers.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def http_error_response(status_code: int, reason: str) -> JSONResponse:
    """A refused HTTP request to /graphql (malformed body, wrong method, …) as a JSON GraphQL
    error (Strawberry answers these in plain text) so that every response of the API is JSON."""
    try:
        code = HTTPStatus(status_code).phrase.upper().replace(" ", "_").replace("-", "_")
    except ValueError:
        code = "BAD_REQUEST"
    return JSONResponse(
        {"errors": [{"message": reason, "extensions": {"code": code}}]}, status_code=status_code
    )


def rate_limit_retry_after(response_data: Any) -> int | None:
    """`retryAfter` of a request refused by the rate limiter (nothing executed), else None."""
    if not isinstance(response_data, Mapping) or response_data.get("data") is not None:
        return None
    for error in response_data.get("errors") or ():
        extensions = error.get("extensions") or {}
        if extensions.get("code") == ErrorCode.RATE_LIMITED.value and "path" not in error:
            return int(extensions.get("retryAfter", 1))
    return None
