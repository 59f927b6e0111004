"""The error contract of the schema: `UserError.code` is the `ErrorCode` enum, and a database
outage reaches clients as SERVICE_UNAVAILABLE without detail."""

from graphql import GraphQLError
from sqlalchemy.exc import OperationalError

from app.db import unavailable_error
from app.errors import ErrorCode, ServiceError
from schema.extensions.errors import classify
from schema.types.common import UserError
from tests.conftest import GraphQLClient

ERROR_CODE_TYPE = """{
  userError: __type(name: "UserError") {
    fields { name type { kind ofType { kind name } } }
  }
  errorCode: __type(name: "ErrorCode") {
    kind description enumValues { name description }
  }
}"""


async def test_user_error_code_is_the_described_error_code_enum(client: GraphQLClient) -> None:
    types = await client.data(ERROR_CODE_TYPE)
    code = next(field for field in types["userError"]["fields"] if field["name"] == "code")
    assert code["type"] == {"kind": "NON_NULL", "ofType": {"kind": "ENUM", "name": "ErrorCode"}}
    enum = types["errorCode"]
    assert enum["kind"] == "ENUM" and enum["description"]
    assert [value["name"] for value in enum["enumValues"]] == [code.value for code in ErrorCode]
    assert all(value["description"] for value in enum["enumValues"])


async def test_a_failed_login_answers_the_unauthenticated_value(client: GraphQLClient) -> None:
    query = """mutation { login(username: "nobody-at-all", password: "not the password") {
      token errors { field code }
    } }"""
    login = (await client.data(query))["login"]
    assert login == {"token": None, "errors": [{"field": "password", "code": "UNAUTHENTICATED"}]}


def test_every_service_error_code_has_its_graphql_value() -> None:
    for code in ErrorCode:
        user_error = UserError.from_service_error(ServiceError(code, "message", "field"))
        assert user_error.code.value == code.value


def test_database_outage_is_service_unavailable_without_sql() -> None:
    outage = OperationalError("SELECT password_hash FROM users", {}, ConnectionError("refused"))
    classified = classify(GraphQLError("boom", path=["me"], original_error=outage))
    assert classified.extensions == {"code": "SERVICE_UNAVAILABLE"}
    assert "SELECT" not in classified.message and "refused" not in classified.message
    assert unavailable_error(ValueError("not an outage")) is None
