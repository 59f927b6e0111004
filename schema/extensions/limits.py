"""The protective extensions of the schema, configured from the settings.

Before execution every operation passes: a token limit (while parsing), depth and alias limits
(validation; depth also stops recursion such as `similar { similar { … } }`), introspection off in
production (unless GRAPHIQL=true), no NUL character in any string argument (PostgreSQL cannot
store one), and the query cost limit plus the per-client rate limit (`schema.extensions.cost`).
All are per-request factories (Strawberry builds a fresh extension for each operation).
"""

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from graphql import (
    ArgumentNode,
    ExecutionResult,
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    Visitor,
    visit,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from app.errors import ErrorCode
from app.ratelimit import RateLimiter
from app.settings import Settings
from schema.extensions.cost import QueryCostLimiter

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


def limit_extensions(
    settings: Settings, rate_limiter: RateLimiter | None = None
) -> list[ExtensionFactory]:
    # The validation rules are built once (Strawberry's QueryDepthLimiter, MaxAliasesLimiter
    # and DisableIntrospection rules), so that `ValidationCache` keys stay stable per schema.
    rules: list[type[ASTValidationRule]] = [
        max_depth_rule(settings.max_query_depth, None, None),
        max_aliases_rule(settings.max_aliases),
    ]
    if settings.is_production and not settings.graphiql_enabled:  # GRAPHIQL=true needs it
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[Any] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        partial(AddValidationRules, rules),
        RejectNulCharacters,
        QueryCostLimiter.factory(maximum=settings.max_query_cost, rate_limiter=rate_limiter),
    ]
    return extensions


NUL = "\x00"


def _literal_has_nul(value: ValueNode) -> bool:
    if isinstance(value, StringValueNode):
        return NUL in value.value
    if isinstance(value, ListValueNode):
        return any(_literal_has_nul(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_literal_has_nul(field.value) for field in value.fields)
    return False


def _json_may_hold_nul(value: Any) -> bool:
    """False when no string in `value` holds a NUL: its JSON encoding (made in C, far faster
    than walking a batch of 500 events in Python) escapes every NUL as `\\u0000`. True may
    be a false alarm (a string holding a backslash and `u0000`); `_json_nul_path` decides."""
    try:
        return "\\u0000" in json.dumps(value)
    except (TypeError, ValueError):  # not JSON data: walk it
        return True


def _json_nul_path(value: Any, path: str) -> str | None:
    """`path` extended to the first string holding a NUL (`$events[5].clientEventId`)."""
    if isinstance(value, str):
        return path if NUL in value else None
    items: Any = ()
    if isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    elif isinstance(value, dict):
        items = ((f"{path}.{key}", item) for key, item in value.items())
    for inner_path, item in items:
        if (found := _json_nul_path(item, inner_path)) is not None:
            return found
    return None


class _NulArguments(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: str | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
        if self.found is None and _literal_has_nul(node.value):
            self.found = node.name.value
        return self.SKIP


class RejectNulCharacters(SchemaExtension):
    """`BAD_USER_INPUT` before execution for a string argument or variable holding U+0000;
    `field` names the argument, or the variable's path to the string (`$events[5].key`).

    The document is walked only when its text holds a NUL or a `\\u` escape that could make one."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        field: str | None = None
        query = context.query or ""
        may_hold_nul = NUL in query or "\\u" in query
        if may_hold_nul and context.graphql_document is not None and context.result is None:
            visitor = _NulArguments()
            visit(context.graphql_document, visitor)
            field = visitor.found
        if field is None and context.result is None:
            for name, value in (context.variables or {}).items():
                if _json_may_hold_nul(value):
                    field = _json_nul_path(value, f"${name}")
                    if field is not None:
                        break
        if field is not None:
            error = GraphQLError(
                f"`{field}` must not contain the NUL character (U+0000)",
                extensions={"code": ErrorCode.BAD_USER_INPUT.value, "field": field},
            )
            context.result = ExecutionResult(data=None, errors=[error])
        yield
