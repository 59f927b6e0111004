"""The Starlette application: GraphQL at /graphql, health probes, and the built web app at /."""

import asyncio
import contextlib
import gc
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from cross_web import HTTPException
from graphql import ExecutionResult, GraphQLError
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types.unset import UNSET, UnsetType
from threadpoolctl import threadpool_limits

from app.auth import InvalidToken, TokenClaims, decode_token
from app.container import Services, build_services
from app.db import ping, wait_for_database
from app.enums import Role
from app.errors import ServiceError
from app.metrics import (
    EVENT_LOOP_LAG,
    GRAPHQL_ERRORS,
    GRAPHQL_LATENCY,
    RECOMMENDATIONS_SERVED,
    exposition,
)
from app.migrate import current_revision, head_revision
from app.observability import RequestLogMiddleware, annotate
from app.persisted_queries import document_hash
from app.ratelimit import build_rate_limiter
from app.response_cache import CachedResponse
from app.security import (
    check_production_settings,
    http_error_response,
    rate_limit_retry_after,
    security_middleware,
)
from app.settings import Settings, get_settings
from app.tracing import tracer_provider
from schema import build_schema
from schema.cache_policy import CachePolicy, cache_policy
from schema.context import Context
from schema.extensions.observability import operation_label

GRAPHQL_RESPONSE_MEDIA_TYPE = "application/graphql-response+json"
LAG_PROBE_SECONDS = 0.1
GC_YOUNG_THRESHOLD = 20_000
"""Net allocations between two collections of the young generation in a serving process
(CPython's default is 700), see `tune_garbage_collector`."""
log = logging.getLogger(__name__)
GRAPHIQL_PAGE = "graphiql.html"  # a second entry of the web build (web/vite.config.ts)
GRAPHIQL_NOT_BUILT = (
    "GraphiQL is served from the web build, which is missing on this server: "
    "run `make web-build`, then reload this page.\n"
)


class SinglePageApp(StaticFiles):
    """The built web app; unknown paths without a file extension get `index.html`. GraphiQL's
    page is served only at /graphql (where the GRAPHIQL setting decides), never by name."""

    async def get_response(self, path: str, scope: Any) -> Response:
        if path == GRAPHIQL_PAGE:
            return await super().get_response("index.html", scope)  # the shop's not-found page
        try:
            return await super().get_response(path, scope)
        except StarletteHTTPException as error:
            if error.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise
            return await super().get_response("index.html", scope)


class _Answered(Exception):
    """Raised by `execute_single` with a complete response (from the response cache)."""

    def __init__(self, response: Response) -> None:
        super().__init__("answered")
        self.response = response


def bearer_token(headers: Headers) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view plus bearer auth and GraphQL-over-HTTP media types."""

    def __init__(self, services: Services) -> None:
        self.rate_limiter = build_rate_limiter(services.settings)  # None when disabled
        self.tracer_provider = tracer_provider(services.settings)  # None: not traced
        super().__init__(
            build_schema(services.settings, self.rate_limiter, self.tracer_provider),
            graphql_ide="graphiql" if services.settings.graphiql_enabled else None,
        )
        self.services = services
        self.graphiql_page = services.settings.web_dist / GRAPHIQL_PAGE

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL build (every asset from this origin, so it works offline and under the
        strict CSP), not Strawberry's CDN page; a plain hint when the web app is not built."""
        if not self.graphiql_page.is_file():
            return PlainTextResponse(GRAPHIQL_NOT_BUILT, status_code=503)
        return FileResponse(self.graphiql_page, headers={"cache-control": "no-cache"})

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        return Context(
            request=request,
            response=response,
            services=self.services,
            viewer=request.scope.get("viewer"),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """WebSocket auth, once per connection: `connection_init` payload `authorization:
        "Bearer <token>"`. A bad token closes the socket with 4403; none leaves it anonymous."""
        params = context.connection_params or {}
        value = params.get("authorization", params.get("Authorization"))
        if value is None:
            return UNSET
        token = bearer_token(Headers({"authorization": value})) if isinstance(value, str) else None
        if token is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        try:
            context.viewer = await self._viewer(token)
        except InvalidToken as error:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"}) from error
        return UNSET

    def should_render_graphql_ide(self, request: Any) -> bool:
        """As Strawberry's, but a GET with a persisted query's hash (no `query`) is a request."""
        return "extensions" not in request.query_params and super().should_render_graphql_ide(
            request
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        accept = request.headers.get("accept", "")
        sub_response.media_type = (
            GRAPHQL_RESPONSE_MEDIA_TYPE if GRAPHQL_RESPONSE_MEDIA_TYPE in accept else None
        )
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """With `application/graphql-response+json`, a request error (parse or validation:
        nothing executed) has no `data` entry and status 400 (429 when rate limited: see
        app/security.py); an executed operation is 200."""
        retry_after = rate_limit_retry_after(response_data)
        if retry_after is not None:
            sub_response.headers["retry-after"] = str(retry_after)
        request_error = (
            isinstance(response_data, dict)
            and response_data.get("data") is None
            and bool(response_data.get("errors"))
            and all("path" not in error for error in response_data["errors"])
        )
        if sub_response.media_type != GRAPHQL_RESPONSE_MEDIA_TYPE or not request_error:
            response = super().create_response(response_data, sub_response)
            if sub_response.media_type == GRAPHQL_RESPONSE_MEDIA_TYPE:
                response.headers["content-type"] = GRAPHQL_RESPONSE_MEDIA_TYPE
            return response
        assert isinstance(response_data, dict)
        without_data = {key: value for key, value in response_data.items() if key != "data"}
        response = super().create_response(without_data, sub_response)  # type: ignore[arg-type]
        response.headers["content-type"] = GRAPHQL_RESPONSE_MEDIA_TYPE
        response.status_code = 400 if retry_after is None else 429
        return response

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """As Strawberry's, but a refused HTTP request gets a JSON error body, not plain text."""
        try:
            return await super().run(request, *args, **kwargs)
        except HTTPException as error:
            return http_error_response(error.status_code, error.reason)
        except _Answered as answered:
            return answered.response

    async def execute_single(  # type: ignore[override]
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """As Strawberry's, plus persisted queries (the document comes from its hash: see
        app/persisted_queries.py) and the response cache (a cacheable document's stored response
        is sent without executing it: see schema/cache_policy.py, app/response_cache.py); a
        mutation sent with GET is 405 Method Not Allowed."""
        started = time.perf_counter()
        try:
            request_data.query = await self.services.documents.resolve(
                request_data.query, request_data.extensions
            )
        except ServiceError as error:
            GRAPHQL_ERRORS.labels(code=error.code.value).inc()
            extensions = {"code": error.code.value}
            if error.field:
                extensions["field"] = error.field
            return ExecutionResult(None, [GraphQLError(error.message, extensions=extensions)])
        policy = self._cache_policy(request_data)
        key = None
        if policy is not None and request_data.query is not None:
            key = await self.services.responses.key(
                policy.scope,
                document_hash(request_data.query),
                request_data.operation_name,
                request_data.variables,
                context.viewer,
            )
        cached = await self.services.responses.get(key) if key else None
        extensions: dict[str, Any] = {}
        if cached is not None:
            billed = await self._bill(context, cached.cost)
            if billed is None:  # over the client's budget: execution refuses it as usual
                cached = None
            else:
                extensions = {"cost": billed}
        if cached is None:
            try:
                result = await super().execute_single(
                    request=request,
                    request_adapter=request_adapter,
                    sub_response=sub_response,
                    context=context,
                    root_value=root_value,
                    request_data=request_data,
                )
            except HTTPException as error:
                if request_adapter.method == "GET" and error.status_code == 400:
                    raise HTTPException(405, "Send mutations with POST") from error
                raise
            if key is None or policy is None or result.errors or result.data is None:
                return result
            extensions = dict(result.extensions or {})
            cost = extensions.get("cost") or {}
            served = sum(
                len(items)
                for name in policy.served_keys
                if isinstance(items := result.data.get(name), list)
            )
            body = self.encode_json({"data": result.data})
            cached = await self.services.responses.put(
                key,
                body.encode() if isinstance(body, str) else body,
                policy.ttl_seconds,
                served=served,
                cost=int(cost.get("requested", 0)),
            )
            outcome = "MISS"
        else:
            label = operation_label(policy.operation_name if policy else None)
            GRAPHQL_LATENCY.labels(operation=label, type="query").observe(
                time.perf_counter() - started
            )
            annotate(operation=label)
            RECOMMENDATIONS_SERVED.inc(cached.served)
            outcome = "HIT"
        assert policy is not None
        raise _Answered(
            self._cached_response(request, cached, extensions, policy, context, outcome)
        )

    async def _bill(self, context: Context, cost: int) -> dict[str, int] | None:
        """Charge a cached answer to the client's bucket as its execution would be: its
        `extensions.cost`, or None when the bucket cannot pay (then it executes and is
        refused with RATE_LIMITED)."""
        billed = {"requested": cost, "maximum": self.services.settings.max_query_cost}
        if self.rate_limiter is None:
            return billed
        decision = await self.rate_limiter.charge(context.client_key, max(cost, 1))
        if not decision.allowed:
            return None
        return {**billed, "remaining": math.floor(decision.remaining)}

    def _cache_policy(self, request_data: GraphQLRequestData) -> CachePolicy | None:
        query = request_data.query
        if not self.services.responses.enabled or query is None:
            return None
        if len(query) > self.services.settings.persisted_query_max_bytes:
            return None
        return cache_policy(query, request_data.operation_name)

    @staticmethod
    def _cached_response(
        request: Request,
        cached: CachedResponse,
        extensions: dict[str, Any],
        policy: CachePolicy,
        context: Context,
        outcome: str,
    ) -> Response:
        """The stored body; on GET with validators: ETag, Cache-Control (public results may be
        reused for their time to live, personal ones revalidated) and 304 on If-None-Match."""
        accept = request.headers.get("accept", "")
        media_type = (
            GRAPHQL_RESPONSE_MEDIA_TYPE
            if GRAPHQL_RESPONSE_MEDIA_TYPE in accept
            else "application/json"
        )
        headers = {"x-response-cache": outcome}
        if request.method == "GET":
            if policy.scope == "public":
                audience = "public" if context.viewer is None else "private"
                control = f"{audience}, max-age={policy.ttl_seconds}"
            else:
                control = "private, no-cache"
            headers.update(
                {"etag": cached.etag, "cache-control": control, "vary": "Authorization, Accept"}
            )
            tags = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
            if cached.etag in tags:
                return Response(status_code=304, headers=headers)
        return Response(cached.with_extensions(extensions), media_type=media_type, headers=headers)

    async def _viewer(self, token: str) -> TokenClaims:
        """The claims of a valid token; a visitor's only while its visit is not merged into an
        account (one primary-key look-up, for visitors only)."""
        claims = decode_token(self.services.settings, token)  # InvalidToken when not valid
        if claims.role == Role.VISITOR.value and not await self.services.users.visitor_active(
            claims.user_id
        ):
            raise InvalidToken("the visit has ended")
        return claims

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            token = bearer_token(Headers(scope=scope))
            if token is not None:
                try:
                    scope["viewer"] = await self._viewer(token)
                    annotate(user_id=scope["viewer"].user_id)
                except InvalidToken:
                    response = JSONResponse(
                        {
                            "errors": [
                                {
                                    "message": "The bearer token is invalid or expired",
                                    "extensions": {"code": "UNAUTHENTICATED"},
                                }
                            ]
                        },
                        status_code=401,
                        headers={"www-authenticate": "Bearer"},
                    )
                    await response(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


async def watch_event_loop_lag() -> None:
    """Sleep LAG_PROBE_SECONDS again and again; each overshoot is time the loop was blocked."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_SECONDS)
        EVENT_LOOP_LAG.observe(max(0.0, time.perf_counter() - started - LAG_PROBE_SECONDS))


def tune_garbage_collector() -> None:
    """For a serving process, once start-up has built its long-lived objects (schema, ORM
    metadata, models): freeze them out of every later collection, and collect the young
    generation every `GC_YOUNG_THRESHOLD` net allocations. A `recordInteractions` batch of 100
    allocates thousands of short-lived objects, and graphql-core leaves a reference cycle per
    request that holds its variables; with the defaults they were promoted until full
    collections of every object in the process took about a fifth of the batch path's CPU."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def create_server_app() -> Starlette:
    """The app as `recommender serve` runs it in each worker: `create_app` with the garbage
    collector tuned once it has started."""
    return create_app(tune_gc=True)


def create_app(settings: Settings | None = None, *, tune_gc: bool = False) -> Starlette:
    settings = settings or get_settings()
    # One request's matrix-vector products are small: BLAS threads only contend for the cores
    # that other requests and processes need (2m shop: p50 44 -> 15 ms at load average 3.5).
    threadpool_limits(1, "blas")
    check_production_settings(settings)  # RuntimeError in production with a weak JWT_SECRET
    services = build_services(settings)
    services.documents.check_servable()  # RuntimeError: trusted mode without documents

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await ping(services.engine)
            current = await current_revision(services.engine)
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        head = head_revision()
        if current != head:
            return JSONResponse(
                {"status": "unavailable", "database": "ok", "migrations": "pending"}, 503
            )
        return JSONResponse({"status": "ok", "database": "ok", "migrations": "current"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await wait_for_database(services.engine, settings.db_connect_retries)
        registry = services.recommendations.registry
        try:
            await registry.refresh()
        except Exception:
            log.exception("published models not loaded at start-up; polling keeps trying")
        registry.start()
        lag = asyncio.create_task(watch_event_loop_lag())
        if tune_gc:
            tune_garbage_collector()
        yield
        lag.cancel()
        await services.close()
        if graphql.rate_limiter is not None:
            await graphql.rate_limiter.close()
        if graphql.tracer_provider is not None:
            await asyncio.to_thread(graphql.tracer_provider.shutdown)  # flushes the last spans

    async def metrics(_: Request) -> Response:
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    graphql = GraphQLApp(services)
    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
    ]
    if (settings.web_dist / "index.html").exists():
        routes.append(Mount("/", app=SinglePageApp(directory=settings.web_dist, html=True)))
    middleware = [Middleware(RequestLogMiddleware), *security_middleware(settings)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.services = services
    return app
