"""Give every error a stable `extensions.code` and hide everything unexpected.

A `ServiceError` keeps its message and gets its code (and `field`); GraphQL's own parse,
validation and coercion errors keep their message; anything else is logged with its stack
trace on the server and reaches the client only as "Internal server error"; a database that
cannot be reached is `SERVICE_UNAVAILABLE` (`app.db.unavailable_error` decides).
"""

import logging
from collections.abc import Iterator

from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension

from app.db import unavailable_error
from app.errors import ServiceError

log = logging.getLogger("app.graphql")
INTERNAL_MESSAGE = "Internal server error"


def classify(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if unavailable := unavailable_error(original):
        log.warning("dependency unavailable in %s: %s", error.path, type(original).__name__)
        original = unavailable
    if isinstance(original, ServiceError):
        extensions = {**(error.extensions or {}), "code": original.code.value}
        if original.field:
            extensions["field"] = original.field
        return _copy(error, original.message, extensions)
    if original is None or (
        isinstance(original, GraphQLError | ValueError | TypeError) and (error.path is None)
    ):
        code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED")
        return _copy(error, error.message, {**(error.extensions or {}), "code": code})
    log.error("unexpected error in %s", error.path, exc_info=original)
    return _copy(error, INTERNAL_MESSAGE, {"code": "INTERNAL_SERVER_ERROR"})


def _copy(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [classify(error) for error in errors]
