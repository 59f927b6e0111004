"""The GraphQL schema: queries, mutations and the extensions every request goes through."""

import strawberry
from strawberry.schema.config import StrawberryConfig

from app.ratelimit import RateLimiter
from app.settings import Settings, get_settings
from schema.extensions.errors import ErrorCodes
from schema.extensions.limits import limit_extensions
from schema.mutations import Mutation
from schema.queries import Query
from schema.types.interaction import Interaction
from schema.types.product import Product
from schema.types.user import User


def build_schema(
    settings: Settings | None = None, rate_limiter: RateLimiter | None = None
) -> strawberry.Schema:
    """The schema with its limits from `settings` (default: the process settings); requests
    are billed to `rate_limiter` when given (see schema/extensions/limits.py)."""
    settings = settings or get_settings()
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Product, User, Interaction],
        extensions=[ErrorCodes, *limit_extensions(settings, rate_limiter)],
        config=StrawberryConfig(auto_camel_case=True),
    )
