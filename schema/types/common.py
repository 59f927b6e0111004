"""Shared GraphQL pieces: typed user errors for mutation payloads, opaque cursors, Relay
connections and global-id decoding."""

import base64
import binascii
import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import strawberry
from strawberry import relay

from app.errors import ServiceError, bad_input
from app.services.catalog import Page
from schema.types.enums import ErrorCode


class Keyed(Protocol):
    @property
    def id(self) -> int: ...


RowT = TypeVar("RowT", bound=Keyed)
ResultT = TypeVar("ResultT")
NodeT = TypeVar("NodeT")
PayloadT = TypeVar("PayloadT")
ConnectionT = TypeVar("ConnectionT", bound=relay.Connection[Any])


@strawberry.type(description="A problem with the input of a mutation that the client can fix.")
class UserError:
    field: str | None = strawberry.field(
        description="The argument at fault, such as `password` or `productId`; null when none."
    )
    message: str = strawberry.field(description="What went wrong, for people.")
    code: ErrorCode = strawberry.field(
        description="What kind of problem, for programs; `ErrorCode` describes each value."
    )

    @classmethod
    def from_service_error(cls, error: ServiceError) -> "UserError":
        return cls(field=error.field, message=error.message, code=ErrorCode(error.code.value))


async def payload_or_errors(
    payload: Callable[..., PayloadT],
    action: Callable[[], Awaitable[ResultT]],
    succeeded: Callable[[ResultT], PayloadT],
) -> PayloadT:
    """`succeeded(await action())`, or `payload(errors=[UserError])` when `action` raises a
    `ServiceError`; every other field of `payload` must default to null.

    Access checks belong before the call: raised there, they stay top-level GraphQL errors."""
    try:
        result = await action()
    except ServiceError as error:
        return payload(errors=[UserError.from_service_error(error)])
    return succeeded(result)


def encode_cursor(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None, argument: str = "after") -> int | None:
    """The key inside a cursor made by `encode_cursor(kind, …)`; a clear error otherwise."""
    if cursor is None:
        return None
    try:
        prefix, _, key = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if prefix == kind and key.isdigit():
            return int(key)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise bad_input(argument, f"`{argument}` is not a cursor of this list")


def connection_from_page(
    connection: Callable[..., ConnectionT],
    kind: str,
    page: Page[RowT],
    node: Callable[[RowT], Any],
    after: str | None,
    **fields: Any,
) -> ConnectionT:
    """`connection` with one edge per row of `page`, in order, its cursor `encode_cursor(kind,
    row.id)`; a previous page exists when `after` was given. `fields` go to `connection` as is."""
    edges = [relay.Edge(cursor=encode_cursor(kind, row.id), node=node(row)) for row in page.items]
    page_info = relay.PageInfo(
        has_next_page=page.has_next,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return connection(edges=edges, page_info=page_info, **fields)


def parse_global_id(value: strawberry.ID | str) -> relay.GlobalID | None:
    """The global id in `value`; None when it is not one."""
    try:
        return relay.GlobalID.from_id(str(value))
    except Exception:
        return None


MAX_GLOBAL_ID = 128
"""Characters; our global ids are far shorter, so a longer value is never one."""


def node_key(value: str, type_name: str) -> int | None:
    """The database id inside global id `value` when it names a `type_name`, else None."""
    return _node_key(value, type_name) if len(value) <= MAX_GLOBAL_ID else None


@functools.lru_cache(maxsize=65_536)
def _node_key(value: str, type_name: str) -> int | None:
    """Cached (bounded by `MAX_GLOBAL_ID` and maxsize): a batch names the same products many
    times."""
    global_id = parse_global_id(value)
    if global_id and global_id.type_name == type_name and global_id.node_id.isdigit():
        return int(global_id.node_id)
    return None


def decode_id(value: strawberry.ID | str, type_name: str, argument: str = "id") -> int:
    """The database id inside a global id of `type_name`; a clear error otherwise."""
    key = node_key(str(value), type_name)
    if key is None:
        raise bad_input(argument, f"`{argument}` is not the id of a {type_name}")
    return key


async def resolve_keyed_nodes(
    node_ids: Iterable[str],
    load: Callable[[list[int]], Awaitable[Sequence[RowT | None]]],
    build: Callable[[RowT], NodeT | None],
) -> list[NodeT | None]:
    """`relay.Node.resolve_nodes` over database keys: one node or None per id, in order.

    `load` gets every key at once and answers one row or None per key; a non-numeric id
    becomes key -1, which matches no row. `build` may hide a row by answering None."""
    keys = [int(node_id) if node_id.isdigit() else -1 for node_id in node_ids]
    rows = await load(keys)
    return [build(row) if row is not None else None for row in rows]
