"""Shared GraphQL pieces: typed user errors, opaque cursors and global-id decoding."""

import base64
import binascii

import strawberry
from strawberry import relay

from app.errors import ServiceError, bad_input


@strawberry.type(description="A problem with the input of a mutation that the client can fix.")
class UserError:
    field: str | None = strawberry.field(
        description="The argument at fault, such as `password` or `productId`; null when none."
    )
    message: str = strawberry.field(description="What went wrong, for people.")
    code: str = strawberry.field(
        description="Stable machine code: BAD_USER_INPUT, CONFLICT, NOT_FOUND, UNAUTHENTICATED."
    )

    @classmethod
    def from_service_error(cls, error: ServiceError) -> "UserError":
        return cls(field=error.field, message=error.message, code=error.code.value)


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


def decode_id(value: strawberry.ID | str, type_name: str, argument: str = "id") -> int:
    """The database id inside a global id of `type_name`; a clear error otherwise."""
    try:
        global_id = relay.GlobalID.from_id(str(value))
        if global_id.type_name == type_name and global_id.node_id.isdigit():
            return int(global_id.node_id)
    except Exception:
        pass
    raise bad_input(argument, f"`{argument}` is not the id of a {type_name}")


def page_info(
    start_cursor: str | None, end_cursor: str | None, has_next: bool, has_previous: bool
) -> relay.PageInfo:
    return relay.PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=start_cursor,
        end_cursor=end_cursor,
    )
