"""GraphQL enums over the application's own enums (one definition each), and `ErrorCode`,
which mirrors `app.errors.ErrorCode` value for value to describe each code for developers."""

from enum import Enum

import strawberry

from app.enums import EVENT_TYPES, InteractionType, Role

strawberry.enum(Role, name="Role", description="What a user may do.")
strawberry.enum(
    InteractionType,
    name="InteractionType",
    description="A customer event; its weight for the recommender is "
    + ", ".join(f"{t.name.upper()} {t.weight:g}" for t in EVENT_TYPES)
    + ".",
)


@strawberry.enum(
    description="Why a request was refused, stable for programs to branch on. Mutations return "
    "it as `UserError.code` next to a `message` for people; top-level GraphQL errors carry the "
    "same names in `extensions.code`."
)
class ErrorCode(Enum):
    BAD_USER_INPUT = strawberry.enum_value(
        "BAD_USER_INPUT",
        description="An argument is malformed or out of range; `field` names it. Fix the input "
        "and send it again.",
    )
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND",
        description="The input refers to an object that does not exist, such as an unknown "
        "product id; `field` names the argument.",
    )
    CONFLICT = strawberry.enum_value(
        "CONFLICT",
        description="The input clashes with stored data, such as a username, email or SKU "
        "already taken; `field` names the argument.",
    )
    UNAUTHENTICATED = strawberry.enum_value(
        "UNAUTHENTICATED",
        description="No valid bearer token, or (from `login`) a wrong username or password. "
        "Sign in and retry with the new token.",
    )
    FORBIDDEN = strawberry.enum_value(
        "FORBIDDEN",
        description="Signed in, but this user may not do this, e.g. an admin-only field or "
        "another customer's data.",
    )
    RATE_LIMITED = strawberry.enum_value(
        "RATE_LIMITED",
        description="This client sent too many requests or too costly queries; wait a moment "
        "before retrying.",
    )
    SERVICE_UNAVAILABLE = strawberry.enum_value(
        "SERVICE_UNAVAILABLE",
        description="A dependency such as the database cannot be reached right now; retry "
        "shortly, with backoff.",
    )
    PERSISTED_QUERY_NOT_FOUND = strawberry.enum_value(
        "PERSISTED_QUERY_NOT_FOUND",
        description="The server does not know the document of this `persistedQuery` hash: send "
        "it again with its `query` (Apollo Client's persisted-queries link does this).",
    )
    PERSISTED_QUERY_NOT_IN_LIST = strawberry.enum_value(
        "PERSISTED_QUERY_NOT_IN_LIST",
        description="The server runs only trusted documents (`PERSISTED_QUERIES_ONLY`) and this "
        "one is not in its manifests.",
    )
    PERSISTED_QUERY_HASH_MISMATCH = strawberry.enum_value(
        "PERSISTED_QUERY_HASH_MISMATCH",
        description="`persistedQuery.sha256Hash` is not the SHA-256 of the `query` sent with it.",
    )
    PERSISTED_QUERY_TOO_LARGE = strawberry.enum_value(
        "PERSISTED_QUERY_TOO_LARGE",
        description="The document is over `PERSISTED_QUERY_MAX_BYTES`; it is not stored or run.",
    )


__all__ = ["ErrorCode", "InteractionType", "Role"]
