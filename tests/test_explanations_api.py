"""Explanations over GraphQL against a real OpenAI-compatible server on loopback."""

import time
from collections.abc import AsyncIterator

import pytest

from app.settings import Settings
from tests.conftest import GraphQLClient, running_client
from tests.fake_llm import FakeLLM, fake_llm_fixture, fake_llm_server  # noqa: F401

LIST = "{ recommendations(first: 10) { rank product { name } } }"
EXPLAINED = """{ recommendations(first: 10) {
  product { name } explanation { text source model cached } } }"""


@pytest.fixture(scope="module")
async def llm_client(sample_database_url: str) -> AsyncIterator[GraphQLClient]:
    settings = Settings(
        database_url=sample_database_url,
        openai_api_key="test-key",
        openai_base_url=fake_llm_server().fake.base_url,
        llm_model="fake-model",
        llm_timeout_seconds=2.0,
        llm_requests_per_minute=0,
    )
    async with running_client(settings) as client:
        yield client


async def shopper(client: GraphQLClient) -> str:
    """A customer with three purchases, so that reasons name their products."""
    token, _ = await client.register("explained")
    page = await client.data("{ products(first: 3) { edges { node { id } } } }")
    for edge in page["products"]["edges"]:
        await client.data(
            "mutation($id: ID!) { recordInteraction(productId: $id, type: PURCHASE) "
            "{ errors { code } } }",
            {"id": edge["node"]["id"]},
            token,
        )
    return token


async def test_no_llm_call_unless_the_field_is_selected(
    llm_client: GraphQLClient, fake_llm: FakeLLM
) -> None:
    token = await shopper(llm_client)
    items = (await llm_client.data(LIST, token=token))["recommendations"]
    assert len(items) == 10
    assert fake_llm.requests == []


async def test_ten_explanations_take_about_one_call_and_are_cached(
    llm_client: GraphQLClient, fake_llm: FakeLLM
) -> None:
    token = await shopper(llm_client)
    await llm_client.data(LIST, token=token)
    fake_llm.delay = 0.5
    started = time.perf_counter()
    items = (await llm_client.data(EXPLAINED, token=token))["recommendations"]
    elapsed = time.perf_counter() - started
    assert len(fake_llm.requests) == 10
    assert elapsed < 2.5, f"10 explanations took {elapsed:.2f} s: not concurrent"
    assert all(item["explanation"]["source"] == "LLM" for item in items)
    assert all(item["explanation"]["model"] == "fake-model" for item in items)
    assert all(item["explanation"]["cached"] is False for item in items)
    assert items[0]["explanation"]["text"] == fake_llm.content

    again = (await llm_client.data(EXPLAINED, token=token))["recommendations"]
    assert len(fake_llm.requests) == 10
    assert all(item["explanation"]["cached"] is True for item in again)


@pytest.mark.parametrize("mode", ["server_error", "rate_limit", "garbage", "hang", "empty"])
async def test_a_failing_llm_falls_back_to_templates_without_errors(
    llm_client: GraphQLClient, fake_llm: FakeLLM, mode: str
) -> None:
    token = await shopper(llm_client)
    fake_llm.mode = mode  # type: ignore[assignment]
    body = await llm_client.query(EXPLAINED, token=token)
    assert "errors" not in body
    items = body["data"]["recommendations"]
    assert len(items) == 10
    for item in items:
        assert item["explanation"]["source"] == "TEMPLATE"
        assert item["explanation"]["model"] is None
        assert len(item["explanation"]["text"]) > 20


async def test_the_prompt_carries_no_personal_data(
    llm_client: GraphQLClient, fake_llm: FakeLLM
) -> None:
    token = await shopper(llm_client)
    me = (await llm_client.data("{ me { id username email } }", token=token))["me"]
    items = (await llm_client.data(EXPLAINED, token=token))["recommendations"]
    assert fake_llm.prompts
    for prompt in fake_llm.prompts:
        assert me["username"] not in prompt
        assert me["email"] not in prompt
        assert me["username"].split("-")[0] + "-" not in prompt
    assert any(item["product"]["name"] in "\n".join(fake_llm.prompts) for item in items)


async def test_without_an_api_key_explanations_are_templates(client: GraphQLClient) -> None:
    token = await shopper(client)
    history = await client.data(
        "{ me { interactions(first: 3) { edges { node { product { name } } } } } }", token=token
    )
    bought = [edge["node"]["product"]["name"] for edge in history["me"]["interactions"]["edges"]]
    items = (await client.data(EXPLAINED, token=token))["recommendations"]
    assert {item["explanation"]["source"] for item in items} == {"TEMPLATE"}
    personal = [
        item for item in items if any(name in item["explanation"]["text"] for name in bought)
    ]
    assert personal, [item["explanation"]["text"] for item in items]


async def test_why_query_explains_one_item(llm_client: GraphQLClient, fake_llm: FakeLLM) -> None:
    token = await shopper(llm_client)
    first = await llm_client.data("{ recommendations(first: 3) { product { id } } }", token=token)
    product_id = first["recommendations"][1]["product"]["id"]
    why = await llm_client.data(
        "query($p: ID!) { recommendation(productId: $p) { rank explanation { text source } } }",
        {"p": product_id},
        token,
    )
    assert why["recommendation"]["rank"] == 2
    assert why["recommendation"]["explanation"]["source"] == "LLM"
    assert len(fake_llm.requests) == 1
