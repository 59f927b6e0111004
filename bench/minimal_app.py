"""The reference: a minimal Strawberry app on the same ASGI stack, answering `{ __typename }`."""

import strawberry
from strawberry.asgi import GraphQL


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


app = GraphQL(strawberry.Schema(query=Query), graphql_ide=None)
