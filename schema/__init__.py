"""The GraphQL schema: queries, mutations and the extensions every request goes through."""

import strawberry
from strawberry.schema.config import StrawberryConfig

from schema.extensions.errors import ErrorCodes
from schema.mutations import Mutation
from schema.queries import Query
from schema.types.interaction import Interaction
from schema.types.product import Product
from schema.types.user import User


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Product, User, Interaction],
        extensions=[ErrorCodes],
        config=StrawberryConfig(auto_camel_case=True),
    )
