"""Root subscription fields (graphql-transport-ws at /graphql) and their error codes.

The token is checked in the `connection_init` payload (`authorization: "Bearer …"`, see
`GraphQLApp.on_ws_connect`): a bad one closes the socket with 4403; without one the connection
is anonymous and a personal subscription is refused with an `error` message whose
`extensions.code` is `UNAUTHENTICATED`; when the token expires, its subscriptions end with such
an error.
"""

import asyncio
import time
from collections.abc import AsyncGenerator, Iterator
from typing import Annotated

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from app.errors import ErrorCode, ServiceError
from app.services.catalog import check_page_size
from schema.context import Context
from schema.dataloaders import Loaders
from schema.extensions.errors import classify
from schema.types.recommendation import Recommendation

Info = strawberry.Info[Context, None]


async def _recommendation_lists(
    info: Info, user_id: int, first: int, expires_at: float
) -> AsyncGenerator[list[Recommendation], None]:
    """The customer's list now, then again after each wake-up from the live broker, until the
    token expires (Unix time `expires_at`): then an UNAUTHENTICATED error ends the stream."""
    context = info.context
    async with context.services.live.listen(user_id) as changes:
        while True:
            context.loaders = Loaders(context.services)  # each push reads fresh product rows
            items = await context.services.recommendations.live_list(user_id, first)
            context.loaders.product.prime_many({item.product.id: item.product for item in items})
            yield [Recommendation.from_live(item, user_id) for item in items]
            try:
                await asyncio.wait_for(changes.get(), timeout=max(0.0, expires_at - time.time()))
            except TimeoutError:
                raise ServiceError(
                    ErrorCode.UNAUTHENTICATED,
                    "The token has expired: subscribe again with a fresh token",
                ) from None


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The signed-in customer's recommendations, best first: the list at once, "
        "then a fresh list within a second of each of their events (recorded through any "
        "server). Send the token in the `connection_init` payload as "
        '`authorization: "Bearer <token>"`.'
    )
    async def recommendations_updated(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 10,
    ) -> AsyncGenerator[list[Recommendation], None]:
        # Checked here, before the stream exists, so a refusal is the protocol's `error` message.
        viewer = info.context.require_viewer()
        check_page_size(first)
        return _recommendation_lists(info, viewer.user_id, first, viewer.expires_at)


class StreamErrorCodes(SchemaExtension):
    """`ErrorCodes` for results sent over WebSocket: each is classified before it is sent (the
    `ErrorCodes` operation hook only runs once the whole stream has ended)."""

    def on_stream_result(self, result: ExecutionResult) -> Iterator[None]:  # type: ignore[override]
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [classify(error) for error in errors]
        yield
