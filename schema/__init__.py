"""The GraphQL schema: queries, mutations, subscriptions and the extensions every request goes
through."""

from functools import partial
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.ratelimit import RateLimiter
from app.settings import Settings, get_settings
from schema.extensions.errors import ErrorCodes
from schema.extensions.limits import limit_extensions
from schema.extensions.observability import OperationMetrics
from schema.mutations import Mutation
from schema.queries import Query
from schema.subscriptions import StreamErrorCodes, Subscription
from schema.types.interaction import Interaction
from schema.types.product import Product
from schema.types.user import User

PARSED_DOCUMENTS = 1024


class RecommenderSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Not Strawberry's log of every error: `ErrorCodes` logs the unexpected ones."""


def build_schema(
    settings: Settings | None = None,
    rate_limiter: RateLimiter | None = None,
    tracer_provider: Any | None = None,
) -> strawberry.Schema:
    """The schema with its limits from `settings` (default: the process settings); requests
    are billed to `rate_limiter` when given (see schema/extensions/limits.py), and traced with
    Strawberry's OpenTelemetry extension when a `tracer_provider` is given (app/tracing.py)."""
    settings = settings or get_settings()
    tracing: list[Any] = []
    if tracer_provider is not None:
        from strawberry.extensions.tracing import OpenTelemetryExtension

        tracing.append(partial(OpenTelemetryExtension, tracer_provider=tracer_provider))
    return RecommenderSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Product, User, Interaction],
        extensions=[
            *tracing,
            OperationMetrics,
            ErrorCodes,
            StreamErrorCodes,
            partial(ParserCache, maxsize=PARSED_DOCUMENTS),
            partial(ValidationCache, maxsize=PARSED_DOCUMENTS),
            *limit_extensions(settings, rate_limiter),
        ],
        config=StrawberryConfig(auto_camel_case=True),
    )
