"""The protective extensions of the schema, configured from the settings.

Before execution every operation passes: a token limit (while parsing), depth and alias limits
(validation; depth also stops recursion such as `similar { similar { … } }`), introspection off in
production, and the query cost limit plus the per-client rate limit (`schema.extensions.cost`).
All are per-request factories (Strawberry builds a fresh extension for each operation).
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from app.ratelimit import RateLimiter
from app.settings import Settings
from schema.extensions.cost import QueryCostLimiter

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


def limit_extensions(
    settings: Settings, rate_limiter: RateLimiter | None = None
) -> list[ExtensionFactory]:
    extensions: list[Any] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(QueryDepthLimiter, max_depth=settings.max_query_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
    ]
    if settings.is_production:
        extensions.append(DisableIntrospection)
    extensions.append(
        QueryCostLimiter.factory(maximum=settings.max_query_cost, rate_limiter=rate_limiter)
    )
    return extensions
