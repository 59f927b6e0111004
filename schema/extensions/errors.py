"""Give every error a stable `extensions.code` and hide everything unexpected.

A `ServiceError` keeps its message and gets its code (and `field`); a variable that does not
fit its type is `BAD_USER_INPUT` with `field` naming where (`$events[1].type`); GraphQL's own
parse and validation errors keep their message; anything else is logged with its stack
trace on the server and reaches the client only as "Internal server error"; a database that
cannot be reached is `SERVICE_UNAVAILABLE` (`app.db.unavailable_error` decides).
"""

import logging
import re
from collections.abc import Iterator

from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension

from app.db import unavailable_error
from app.errors import ServiceError

log = logging.getLogger("app.graphql")
INTERNAL_MESSAGE = "Internal server error"
_VARIABLE_ERROR = re.compile(r"Variable '(\$\w+)' has invalid value(?: at ((?:\[\d+\]|\.\w+)+))?:")
_MISSING_FIELD = re.compile(r".*: Expected value of type '\w+' to include required field '(\w+)'")
"""graphql-core's messages for a variable that does not fit its type, e.g. `Variable '$events'
has invalid value at [1].type: Value 'HOVER' does not exist in 'InteractionType' enum.`, and
for a required input field left out (`... at [1]: Expected value of type 'InteractionInput'
to include required field 'productId', ...`)."""


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
    if error.path is None and (variable := _VARIABLE_ERROR.match(error.message)):
        field = variable[1] + (variable[2] or "")
        if missing := _MISSING_FIELD.match(error.message):
            field += f".{missing[1]}"
        return _copy(error, error.message, {"code": "BAD_USER_INPUT", "field": field})
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
