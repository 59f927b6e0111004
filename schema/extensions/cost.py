"""Query cost: price an operation before it runs, refuse it above a maximum, bill the client.

Pricing (static, from the document, the schema and the variables):

* a scalar or enum field costs 0, or 1 when it has its own async resolver (`purchaseCount`,
  `totalCount`, `categories`: each is a lookup);
* an object field costs 1 plus the cost of its selection; Relay wrappers (`edges`, `pageInfo`)
  and plain-data objects already in hand (`PLAIN_TYPES`: e.g. a recommendation's
  `experiment`, an experiment's `variants`) cost nothing of their own;
* a list field multiplies the cost of one element by its `first` argument (the literal, the
  variable's value, the variable's default or the argument's default, in that order); a
  connection passes its `first` to its `edges`; a list without `first` counts
  `LIST_SIZES` elements (default `DEFAULT_LIST_SIZE`);
* a root mutation field costs `MUTATION_COST` of its own (a write), plus `MUTATION_ITEM_COST`
  per element of its list arguments (`recordInteractions(events: [...])`: one write each); the
  lists of its payload count that many elements;
* fragments and inline fragments are priced where they are spread (all type conditions are
  counted: an upper bound); introspection fields (`__typename`, `__schema`, …) cost 0.

`QueryCostLimiter` runs before execution (after validation): above `maximum` the operation is
refused with `QUERY_TOO_COSTLY` and nothing runs; otherwise the cost is charged to the
client's rate-limit bucket (`RATE_LIMITED` with `retryAfter` when it is empty). Every executed
response reports `extensions.cost` = {"requested", "maximum"} (and "remaining" points when rate
limiting is on).
"""

import math
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from app.errors import ErrorCode
from app.ratelimit import RateLimiter

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
DEFAULT_LIST_SIZE = 10
MUTATION_COST = 10
MUTATION_ITEM_COST = 1
LIST_SIZES: dict[tuple[str, str], int] = {
    ("Recommendation", "reasons"): 5,  # one per ReasonKind at most
    ("Reason", "products"): 3,  # "at most 3"
}
WRAPPER_TYPES = {"PageInfo"}
PLAIN_TYPES = {
    "ExperimentAssignment",
    "ExperimentVariant",
    "ExperimentDifference",
    "OfflineModelMetrics",
    "RecordedInteraction",
    "InteractionError",
}


def _is_wrapper(named: GraphQLNamedType) -> bool:
    return named.name in WRAPPER_TYPES or named.name in PLAIN_TYPES or named.name.endswith("Edge")


def _has_async_resolver(field: GraphQLField) -> bool:
    definition = (field.extensions or {}).get("strawberry-definition")
    resolver = getattr(definition, "base_resolver", None)
    return resolver is not None and bool(getattr(resolver, "is_async", True))


class _Pricer:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
    ) -> None:
        self.schema = schema
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        self.variables = dict(variables or {})
        self.variable_defaults: dict[str, Any] = {}
        for definition in operation.variable_definitions or ():
            default = definition.default_value
            if isinstance(default, IntValueNode):
                self.variable_defaults[definition.variable.name.value] = int(default.value)
        self.memo: dict[tuple[str, str, int | None, bool], int] = {}
        self.active: set[str] = set()

    def selection_set(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        size_hint: int | None = None,
        root_mutation: bool = False,
    ) -> int:
        if selection_set is None or parent is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, size_hint, root_mutation)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                fragment_type = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(
                    selection.selection_set, fragment_type, size_hint, root_mutation
                )
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, size_hint, root_mutation)
        return total

    def fragment(self, name: str, size_hint: int | None, root_mutation: bool) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.active:  # unknown or cyclic: validation refuses it
            return 0
        fragment_type = self.schema.get_type(fragment.type_condition.name.value)
        key = (name, fragment_type.name if fragment_type else "", size_hint, root_mutation)
        if key not in self.memo:  # memoised: a "fragment bomb" is priced in linear time
            self.active.add(name)
            try:
                self.memo[key] = self.selection_set(
                    fragment.selection_set, fragment_type, size_hint, root_mutation
                )
            finally:
                self.active.discard(name)
        return self.memo[key]

    def field(
        self, node: FieldNode, parent: GraphQLNamedType, size_hint: int | None, root_mutation: bool
    ) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        own = MUTATION_COST if root_mutation else 0
        if is_leaf_type(named):
            return own + (1 if _has_async_resolver(definition) else 0)
        own += 0 if _is_wrapper(named) else 1
        first = self.first_argument(node, definition)
        if root_mutation and (items := self.list_arguments_length(node, definition)) is not None:
            own += items * MUTATION_ITEM_COST
            first = items
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            if first is not None:
                size = first
            elif size_hint is not None:
                size = size_hint
            else:
                size = LIST_SIZES.get((parent.name, name), DEFAULT_LIST_SIZE)
            return max(size, 0) * (own + self.selection_set(node.selection_set, named))
        # A connection (or any object with `first`): its `edges` list takes `first` as its size.
        return own + self.selection_set(node.selection_set, named, first)

    def list_arguments_length(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The total number of elements of the list arguments given to the field (literal or
        variable); None when it has no list argument."""
        total: int | None = None
        for argument in node.arguments or ():
            spec = definition.args.get(argument.name.value)
            if spec is None or not isinstance(get_nullable_type(spec.type), GraphQLList):
                continue
            value = argument.value
            if isinstance(value, ListValueNode):
                size = len(value.values)
            elif isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                size = len(given) if isinstance(given, list) else 1
            else:
                size = 1
            total = (total or 0) + size
        return total

    def first_argument(self, node: FieldNode, definition: GraphQLField) -> int | None:
        if "first" not in definition.args:
            return None
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                variable = value.name.value
                given = self.variables.get(variable)
                if isinstance(given, int) and not isinstance(given, bool):
                    return given
                if variable in self.variable_defaults:
                    return self.variable_defaults[variable]
            break  # anything else fails coercion before a resolver runs; price the default
        default = definition.args["first"].default_value
        return default if isinstance(default, int) and not isinstance(default, bool) else None


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The price of the operation `operation_name` of a valid `document` (0 when none)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    pricer = _Pricer(schema, document, operation, variables)
    return pricer.selection_set(
        operation.selection_set, root, root_mutation=operation.operation == OperationType.MUTATION
    )


def _refusal(message: str, extensions: dict[str, Any]) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions=extensions)])


class QueryCostLimiter(SchemaExtension):
    """Refuse operations above `maximum` and charge the rest to the client's bucket."""

    def __init__(self, *, maximum: int, rate_limiter: RateLimiter | None = None) -> None:
        self.maximum = maximum
        self.rate_limiter = rate_limiter
        self.cost: dict[str, int] | None = None

    @classmethod
    def factory(
        cls, *, maximum: int, rate_limiter: RateLimiter | None = None
    ) -> Callable[[], "QueryCostLimiter"]:
        """A per-request constructor for `strawberry.Schema(extensions=[...])`."""
        return lambda: cls(maximum=maximum, rate_limiter=rate_limiter)

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is None or context.result is not None:
            yield
            return
        requested = operation_cost(
            context.schema._schema,
            context.graphql_document,
            context.variables,
            context.operation_name,
        )
        self.cost = {"requested": requested, "maximum": self.maximum}
        if requested > self.maximum:
            context.result = _refusal(
                f"This query costs {requested} points, more than the maximum of {self.maximum}: "
                "ask for fewer items (`first`) or fewer nested fields",
                {"code": QUERY_TOO_COSTLY, "cost": dict(self.cost)},
            )
        elif self.rate_limiter is not None:
            key = getattr(context.context, "client_key", "anonymous")
            decision = await self.rate_limiter.charge(key, max(requested, 1))
            self.cost["remaining"] = math.floor(decision.remaining)
            if not decision.allowed:
                retry_after = max(1, math.ceil(decision.retry_after))
                context.result = _refusal(
                    f"Rate limit exceeded: this query costs {requested} points and "
                    f"{math.floor(decision.remaining)} are left; retry in {retry_after} s",
                    {
                        "code": ErrorCode.RATE_LIMITED.value,
                        "retryAfter": retry_after,
                        "cost": dict(self.cost),
                    },
                )
        yield

    def get_results(self) -> dict[str, Any]:
        return {"cost": self.cost} if self.cost is not None else {}
