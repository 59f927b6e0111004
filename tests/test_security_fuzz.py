"""Property: whatever a client sends — random selections of the schema's real fields with random
arguments (huge and negative numbers, weird strings, wrong types, random global ids), inline or
as variables, anonymous, as a customer or as an admin — the production app answers with JSON,
never with a 5xx, and never leaks internals (tracebacks, driver names, file paths).

Runs against its own copy of the sample data (SQLite and PostgreSQL): fuzzed mutations stay
out of the database the other tests share. `FUZZ_EXAMPLES` raises the number of examples;
`FUZZ_STRICT=1` also fails on a masked internal error (a bug, though nothing leaks).
"""

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    get_named_type,
    is_leaf_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import create_engine
from app.models import Role
from app.services.imports import import_dataset
from app.settings import Settings
from schema import build_schema
from tests.conftest import BACKENDS, SAMPLE_DIR, GraphQLClient, fresh_database, running_client

SCHEMA = build_schema(Settings())._schema
LEAKS = ("traceback", "sqlalchemy", "asyncpg", "sqlite", "/work/", '.py"', "psycopg", "aiosqlite")
MAX_DEPTH = 4
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
STRICT = os.environ.get("FUZZ_STRICT") == "1"


def _no_leak_words(text: str) -> bool:
    lowered = text.lower()
    return not any(marker.lower() in lowered for marker in LEAKS)


WEIRD_STRINGS = st.one_of(
    st.text(max_size=40).filter(_no_leak_words),
    st.sampled_from(
        [
            "",
            " ",
            "%'; DROP TABLE products; --",
            "' OR '1'='1",
            "\\",
            '"',
            "%",
            "_",
            "\x00",
            "nul\x00byte",
            "\u202e\u0000\ud7ff",
            "😀" * 20,
            "a" * 3000,
            "../../etc/passwd",
            "<script>alert(1)</script>",
            "{{7*7}}",
            "UHJvZHVjdDox",
            "Product:1",
            "null",
            "NaN",
            "-1",
            "1e309",
        ]
    ),
)
INTS = st.one_of(
    st.integers(min_value=-5, max_value=120),
    st.sampled_from([0, -1, 101, 5000, 2**31 - 1, 2**31, -(2**31) - 1, 2**53, 2**63, 10**30]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, -1.5, 1e308, -1e308, 5e-324]),
)
RAW_IDS = st.one_of(INTS.map(str), st.text(max_size=8).filter(_no_leak_words))
GLOBAL_IDS = st.builds(
    lambda kind, key: base64.b64encode(f"{kind}:{key}".encode()).decode(),
    st.sampled_from(["Product", "User", "Interaction", "Nope", "", "product"]),
    RAW_IDS,
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), INTS, FLOATS, WEIRD_STRINGS),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=6).filter(_no_leak_words), children, max_size=3),
    ),
    max_leaves=6,
)


@dataclass
class Variable:
    name: str
    type_text: str
    value: Any


def _type_text(type_: Any) -> str:
    if isinstance(type_, GraphQLNonNull):
        return f"{_type_text(type_.of_type)}!"
    if isinstance(type_, GraphQLList):
        return f"[{_type_text(type_.of_type)}]"
    return type_.name


def _literal(value: Any, type_: Any) -> str:
    """`value` written as a GraphQL literal (enum names bare, object keys unquoted)."""
    named = get_named_type(type_)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and isinstance(named, GraphQLEnumType) and value.isidentifier():
        return value
    if isinstance(value, list):
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        item_type = inner.of_type if isinstance(inner, GraphQLList) else inner
        return "[" + ", ".join(_literal(item, item_type) for item in value) + "]"
    if isinstance(value, dict):
        fields = named.fields if isinstance(named, GraphQLInputObjectType) else {}
        parts = []
        for key, item in value.items():
            if key.isidentifier():
                field_type = fields[key].type if key in fields else named
                parts.append(f"{key}: {_literal(item, field_type)}")
        return "{" + ", ".join(parts) + "}"
    return json.dumps(value)


@st.composite
def input_values(draw: st.DrawFn, type_: GraphQLInputType, depth: int = 0) -> Any:
    """A value for `type_`: usually of that type (with hostile contents), sometimes not."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUES)  # the wrong type
    nullable = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(nullable, GraphQLList):
        return draw(st.lists(input_values(nullable.of_type, depth + 1), max_size=3))
    named = get_named_type(type_)
    if isinstance(named, GraphQLEnumType):
        return draw(st.sampled_from([*named.values, "NOT_A_VALUE"]))
    if isinstance(named, GraphQLInputObjectType):
        if depth > 2:
            return {}
        names = draw(st.lists(st.sampled_from(sorted(named.fields)), unique=True, max_size=8))
        return {name: draw(input_values(named.fields[name].type, depth + 1)) for name in names}
    assert isinstance(named, GraphQLScalarType)
    scalar = {
        "Int": INTS,
        "Float": FLOATS,
        "Boolean": st.booleans(),
        "ID": st.one_of(GLOBAL_IDS, RAW_IDS, WEIRD_STRINGS),
        "String": WEIRD_STRINGS,
    }.get(named.name, WEIRD_STRINGS)
    return draw(scalar)


@st.composite
def arguments(draw: st.DrawFn, field: Any, variables: list[Variable]) -> str:
    """Some of the field's arguments (always the required ones), inline or as variables."""
    parts = []
    for name, argument in field.args.items():
        required = isinstance(argument.type, GraphQLNonNull)
        if not required and not draw(st.booleans()):
            continue
        value = draw(input_values(argument.type))
        if draw(st.booleans()):
            variable = Variable(f"v{len(variables)}", _type_text(argument.type), value)
            variables.append(variable)
            parts.append(f"{name}: ${variable.name}")
        else:
            parts.append(f"{name}: {_literal(value, argument.type)}")
    return f"({', '.join(parts)})" if parts else ""


@st.composite
def selections(
    draw: st.DrawFn, type_: GraphQLOutputType, variables: list[Variable], depth: int = 0
) -> str:
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if depth >= MAX_DEPTH:
        return "{ __typename }"
    parts = []
    if isinstance(named, GraphQLInterfaceType):  # Node: spread onto its implementations
        for implementation in SCHEMA.get_possible_types(named):
            if draw(st.booleans()):
                inner = draw(selections(implementation, variables, depth))
                parts.append(f"... on {implementation.name} {inner}")
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
    names = draw(st.lists(st.sampled_from(sorted(named.fields)), min_size=1, max_size=4))
    for index, name in enumerate(names):
        field = named.fields[name]
        alias = f"f{index}: " if names.count(name) > 1 else ""
        args = draw(arguments(field, variables))
        sub = draw(selections(field.type, variables, depth + 1))
        parts.append(f"{alias}{name}{args} {sub}".strip())
    return "{ " + " ".join(parts) + " }"


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    root = draw(st.sampled_from(["query"] * 3 + ["mutation"]))
    root_type = SCHEMA.query_type if root == "query" else SCHEMA.mutation_type
    assert root_type is not None
    variables: list[Variable] = []
    body = draw(selections(root_type, variables))
    declared = ", ".join(f"${v.name}: {v.type_text}" for v in variables)
    document = f"{root}{f'({declared})' if declared else ''} {body}"
    values = {v.name: v.value for v in variables}
    if draw(st.integers(0, 9)) == 0:  # variables that are not even an object
        return document, draw(JSON_VALUES)
    return document, values


@pytest.fixture(scope="module", params=BACKENDS)
async def fuzz_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[GraphQLClient, dict[str, str | None]]]:
    """The production app (rate limit off) over its own copy of the sample data, with tokens."""
    async with fresh_database(request.param, tmp_path_factory.mktemp("fuzz")) as url:
        engine = create_engine(Settings(database_url=url))
        await import_dataset(engine, SAMPLE_DIR)
        await engine.dispose()
        settings = Settings(
            database_url=url,
            app_env="production",
            jwt_secret="fuzzing-secret-that-is-long-enough-for-production",
            rate_limit_points_per_minute=0,
        )
        async with running_client(settings) as client:
            users = client.app.state.services.users
            tokens: dict[str, str | None] = {"anonymous": None}
            for role in (Role.CUSTOMER, Role.ADMIN):
                name = f"fuzz-{role.value}-{uuid.uuid4().hex[:8]}"
                signed_in = await users.register(
                    name, f"{name}@example.com", "correct-horse-battery", role=role
                )
                tokens[role.value] = signed_in.token
            yield client, tokens


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operation=operations(), viewer=st.sampled_from(["anonymous", "customer", "admin"]))
async def test_no_input_causes_a_server_error_or_a_leak(
    fuzz_target: tuple[GraphQLClient, dict[str, str | None]],
    operation: tuple[str, dict[str, Any]],
    viewer: str,
) -> None:
    client, tokens = fuzz_target
    document, variables = operation
    headers = {"content-type": "application/json"}
    if tokens[viewer]:
        headers["authorization"] = f"Bearer {tokens[viewer]}"
    payload = json.dumps({"query": document, "variables": variables})
    response = await client.http.post("/graphql", content=payload, headers=headers)
    context = f"{document} {variables!r} as {viewer} -> {response.status_code} {response.text}"
    assert response.status_code < 500, context
    body = response.json()  # JSON, or this raises
    assert isinstance(body, dict), context
    assert "data" in body or "errors" in body, context
    assert _no_leak_words(response.text), context
    assert Path(__file__).name not in response.text, context
    if STRICT:
        assert "INTERNAL_SERVER_ERROR" not in response.text, context
