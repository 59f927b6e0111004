"""Which documents the response cache may answer, decided from the document alone.

A document is cacheable when it is a query whose root fields are all in `CACHEABLE_ROOT_FIELDS`
(a static allow-list: new fields are not cached until someone decides they are safe), none of
them with an argument in its `uncacheable_arguments`, and no field anywhere in
`NEVER_CACHED_FIELDS`. Everything else (mutations, subscriptions, `me`, admin reports, the
"Why?" lookup, introspection) always executes.

Each allowed root field has a scope and a time to live:

* `public`: the result depends only on the variables and the catalog (products, trending);
  GET responses carry `Cache-Control` so browsers and CDNs may reuse them;
* `personal`: the result depends on the viewer too (their recommendations); the cache key then
  holds the viewer's generation token, which each of their events replaces, so an event
  invalidates every cached personal response of that customer at once, on every process.

A document takes the narrowest scope and the shortest time to live of its root fields.
`Recommendation.explanation` is never cached here: explanations have their own cache (an hour)
and report `cached`/`source` per request, which a replayed response would get wrong.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
)

Scope = Literal["public", "personal"]


@dataclass(frozen=True)
class FieldPolicy:
    scope: Scope
    ttl_seconds: int
    uncacheable_arguments: frozenset[str] = frozenset()


CACHEABLE_ROOT_FIELDS: dict[str, FieldPolicy] = {
    "products": FieldPolicy("public", 30),
    "product": FieldPolicy("public", 30),
    "productBySku": FieldPolicy("public", 30),
    "categories": FieldPolicy("public", 60),
    "trending": FieldPolicy("public", 30),
    "__typename": FieldPolicy("public", 60),
    # An admin's look at another customer (`userId`) is keyed by nobody's generation: executed.
    "recommendations": FieldPolicy("personal", 60, frozenset({"userId"})),
}
NEVER_CACHED_FIELDS = frozenset({"explanation"})
SERVED_ROOT_FIELDS = frozenset({"recommendations"})
MAX_MEMO = 512


@dataclass(frozen=True)
class CachePolicy:
    """How a cacheable document's responses may be reused."""

    scope: Scope
    ttl_seconds: int
    operation_name: str | None = None  # the operation's own name, for metrics and logs
    # Response keys of root fields whose items count in `recommender_recommendations_served_total`
    # (a cached list is still served to the customer).
    served_keys: tuple[str, ...] = ()


def _fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> list[FieldNode]:
    """The fields of a selection set, through fragments (each fragment once per path)."""
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields.extend(_fields(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:
                fields.extend(_fields(fragment.selection_set, fragments, seen | {name}))
    return fields


def _selects_never_cached(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> bool:
    if selection_set is None:
        return False
    for field in _fields(selection_set, fragments):
        if field.name.value in NEVER_CACHED_FIELDS:
            return True
        if _selects_never_cached(field.selection_set, fragments):
            return True
    return False


def policy_for(document: DocumentNode, operation_name: str | None) -> CachePolicy | None:
    """The policy of the operation `operation_name` of `document`, or None: always execute."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    scope: Scope = "public"
    ttl: int | None = None
    roots = _fields(operations[0].selection_set, fragments)
    for field in roots:
        policy = CACHEABLE_ROOT_FIELDS.get(field.name.value)
        if policy is None:
            return None
        if any(arg.name.value in policy.uncacheable_arguments for arg in field.arguments or ()):
            return None
        if policy.scope == "personal":
            scope = "personal"
        ttl = policy.ttl_seconds if ttl is None else min(ttl, policy.ttl_seconds)
    if ttl is None or _selects_never_cached(operations[0].selection_set, fragments):
        return None
    name = operations[0].name
    served = tuple(
        (field.alias or field.name).value
        for field in roots
        if field.name.value in SERVED_ROOT_FIELDS
    )
    return CachePolicy(scope, ttl, name.value if name else None, served)


@lru_cache(maxsize=MAX_MEMO)
def cache_policy(query: str, operation_name: str | None) -> CachePolicy | None:
    """`policy_for` of a document text (memoised); None for a document that does not parse."""
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return None
    return policy_for(document, operation_name)
