"""ExplanationService and the Cache layer against the real fake LLM server and the local Redis."""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as redis
from prometheus_client import REGISTRY

from app.cache import Cache, build_cache
from app.services.explanations import (
    Explanation,
    ExplanationRequest,
    ExplanationService,
    RateLimiter,
    ReasonFacts,
    template_explanation,
    usable_text,
)
from app.settings import Settings
from tests.fake_llm import FakeLLM, fake_llm_fixture  # noqa: F401
from tests.tcp_proxy import TcpProxy

REDIS_URL = "redis://127.0.0.1:6379/0"
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"
LLM_TEXT = "You bought the T-light holder, and this lantern suits it well."

ServiceFactory = Callable[..., ExplanationService]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def llm_calls(outcome: str) -> float:
    return metric("recommender_llm_calls_total", outcome=outcome)


def request_for(
    sku: str = "85123A",
    *,
    customer_key: str | None = None,
    reasons: tuple[ReasonFacts, ...] | None = None,
    category: str | None = "Home décor",
) -> ExplanationRequest:
    if reasons is None:
        reasons = (
            ReasonFacts(
                "SIMILAR_TO_PURCHASED",
                0.7,
                ("WHITE HANGING HEART T-LIGHT HOLDER", "RED WOOLLY HOTTIE WHITE HEART"),
                "Home décor",
                "Similar to WHITE HANGING HEART T-LIGHT HOLDER and 1 other product you bought",
            ),
            ReasonFacts("TRENDING", 0.3, (), "Home décor", "Popular this week"),
        )
    return ExplanationRequest(
        customer_key=customer_key or f"customer-{uuid.uuid4().hex[:8]}",
        product_sku=sku,
        product_name="WHITE METAL LANTERN",
        product_category=category,
        reasons=reasons,
        recent_product_names=("WHITE HANGING HEART T-LIGHT HOLDER",),
        recent_categories=("Home décor",),
    )


def settings_for(fake: FakeLLM, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": "test",
        "openai_base_url": fake.base_url,
        "llm_model": "fake-model",
        "redis_url": None,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def make_service(fake_llm: FakeLLM) -> AsyncIterator[ServiceFactory]:
    """Build services over the fake server (memory cache unless given one); closes them all."""
    services: list[ExplanationService] = []
    caches: list[Cache] = []

    def make(cache: Cache | None = None, **overrides: Any) -> ExplanationService:
        if cache is None:
            cache = Cache("explanations")
        caches.append(cache)
        service = ExplanationService(settings_for(fake_llm, **overrides), cache)
        services.append(service)
        return service

    yield make
    for service in services:
        await service.close()
    for cache in caches:
        await cache.close()


async def redis_available() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        return bool(await client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def redis_namespace() -> AsyncIterator[str]:
    """A namespace unique to this test, whose keys are deleted afterwards."""
    if not await redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}")
    namespace = f"test-{uuid.uuid4().hex}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# Concurrency, cache


async def test_ten_explanations_run_concurrently(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    fake_llm.delay = 0.5
    fake_llm.content = LLM_TEXT
    service = make_service()
    requests = [request_for(f"SKU{index}") for index in range(10)]

    started = time.perf_counter()
    explanations = await asyncio.gather(*(service.explain(request) for request in requests))
    elapsed = time.perf_counter() - started

    assert elapsed < 2.0
    assert len(fake_llm.requests) == 10
    assert all(explanation.source == "LLM" for explanation in explanations)
    assert all(explanation.text == LLM_TEXT for explanation in explanations)


async def test_second_identical_call_is_served_from_the_cache(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    fake_llm.content = LLM_TEXT
    service = make_service()
    request = request_for()
    hits = metric("recommender_explanations_total", source="LLM", cached="true")

    first = await service.explain(request)
    second = await service.explain(request)

    assert first == Explanation(LLM_TEXT, "LLM", "fake-model", False)
    assert second == Explanation(LLM_TEXT, "LLM", "fake-model", True)
    assert len(fake_llm.requests) == 1
    assert metric("recommender_explanations_total", source="LLM", cached="true") == hits + 1


async def test_cache_key_depends_on_customer_product_and_reasons(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    service = make_service()
    request = request_for(customer_key="c1")
    stronger = (ReasonFacts("SIMILAR_CUSTOMERS", 1.0),)
    drifted = tuple(
        ReasonFacts(r.kind, r.weight + 0.01, r.product_names, r.category, r.detail)
        for r in request.reasons
    )

    await service.explain(request)
    await service.explain(request_for(customer_key="c2"))
    await service.explain(request_for("OTHER", customer_key="c1"))
    await service.explain(request_for(customer_key="c1", reasons=stronger))
    assert len(fake_llm.requests) == 4

    same = await service.explain(request_for(customer_key="c1", reasons=drifted))
    assert same.cached
    assert len(fake_llm.requests) == 4


async def test_explanations_are_shared_through_redis(
    fake_llm: FakeLLM, make_service: ServiceFactory, redis_namespace: str
) -> None:
    fake_llm.content = LLM_TEXT
    request = request_for()
    first_process = make_service(Cache("explanations", REDIS_URL, namespace=redis_namespace))
    second_process = make_service(Cache("explanations", REDIS_URL, namespace=redis_namespace))

    first = await first_process.explain(request)
    second = await second_process.explain(request)

    assert (first.source, first.cached) == ("LLM", False)
    assert second == Explanation(LLM_TEXT, "LLM", "fake-model", True)
    assert len(fake_llm.requests) == 1
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{redis_namespace}:*")]
        assert len(keys) == 1
        ttl = await client.ttl(keys[0])
    finally:
        await client.aclose()
    assert 3500 < ttl <= 3600


async def test_explanations_survive_unreachable_redis(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    fake_llm.content = LLM_TEXT
    service = make_service(Cache("explanations", CLOSED_REDIS_URL))
    request = request_for()

    first = await service.explain(request)
    second = await service.explain(request)

    assert (first.source, first.cached) == ("LLM", False)
    assert (second.source, second.cached) == ("LLM", True)
    assert len(fake_llm.requests) == 1


# Failures fall back to the template


@pytest.mark.parametrize(
    ("mode", "content", "outcome", "requests"),
    [
        ("hang", LLM_TEXT, "timeout", 1),
        ("rate_limit", LLM_TEXT, "rate_limited", 3),
        ("server_error", LLM_TEXT, "error", 3),
        ("garbage", LLM_TEXT, "unusable", 1),
        ("empty", LLM_TEXT, "unusable", 1),
        ("ok", "I'm sorry, but as an AI I cannot know what you like.", "unusable", 1),
        ("ok", '{"explanation": "You will like it"}', "unusable", 1),
        ("ok", "Great pick! " * 40, "unusable", 1),
    ],
    ids=["timeout", "429", "500", "garbage", "empty", "apology", "json", "too-long"],
)
async def test_llm_failures_fall_back_to_the_template(
    fake_llm: FakeLLM,
    make_service: ServiceFactory,
    mode: Any,
    content: str,
    outcome: str,
    requests: int,
) -> None:
    fake_llm.mode = mode
    fake_llm.content = content
    service = make_service(llm_timeout_seconds=0.5 if mode == "hang" else 3.0)
    request = request_for()
    before = llm_calls(outcome)

    started = time.perf_counter()
    explanation = await service.explain(request)
    elapsed = time.perf_counter() - started

    assert explanation == Explanation(template_explanation(request), "TEMPLATE", None, False)
    assert elapsed < 1.5
    assert len(fake_llm.requests) == requests
    assert llm_calls(outcome) == before + 1
    again = await service.explain(request)
    assert not again.cached
    assert len(fake_llm.requests) == 2 * requests


async def test_one_server_error_is_retried(fake_llm: FakeLLM, make_service: ServiceFactory) -> None:
    fake_llm.content = LLM_TEXT
    fake_llm.fail_next("server_error")
    service = make_service()

    explanation = await service.explain(request_for())

    assert (explanation.source, explanation.text) == ("LLM", LLM_TEXT)
    assert len(fake_llm.requests) == 2


async def test_rate_limit_is_retried_after_retry_after(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    fake_llm.content = LLM_TEXT
    fake_llm.retry_after = "0.3"
    fake_llm.fail_next("rate_limit")
    service = make_service()

    started = time.perf_counter()
    explanation = await service.explain(request_for())

    assert explanation.source == "LLM"
    assert time.perf_counter() - started >= 0.3
    assert len(fake_llm.requests) == 2


async def test_retry_after_beyond_the_budget_gives_up_at_once(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    fake_llm.retry_after = "10"
    fake_llm.fail_next("rate_limit")
    service = make_service()

    started = time.perf_counter()
    explanation = await service.explain(request_for())

    assert explanation.source == "TEMPLATE"
    assert time.perf_counter() - started < 1.0
    assert len(fake_llm.requests) == 1


async def test_client_errors_are_not_retried(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    fake_llm.mode = "bad_request"
    service = make_service()
    before = llm_calls("error")

    explanation = await service.explain(request_for())

    assert explanation.source == "TEMPLATE"
    assert len(fake_llm.requests) == 1
    assert llm_calls("error") == before + 1


async def test_no_api_key_uses_the_template_without_calling(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    service = make_service(openai_api_key=None)
    request = request_for()

    explanation = await service.explain(request)

    assert explanation == Explanation(template_explanation(request), "TEMPLATE", None, False)
    assert fake_llm.requests == []


async def test_exhausted_rate_limiter_falls_back_at_once(
    fake_llm: FakeLLM, make_service: ServiceFactory
) -> None:
    fake_llm.delay = 0.2
    service = make_service(llm_requests_per_minute=2)
    before = llm_calls("rate_limited")

    first, second = [await service.explain(request_for(f"SKU{i}")) for i in range(2)]
    started = time.perf_counter()
    third = await service.explain(request_for("SKU3"))

    assert (first.source, second.source, third.source) == ("LLM", "LLM", "TEMPLATE")
    assert time.perf_counter() - started < 0.1
    assert len(fake_llm.requests) == 2
    assert llm_calls("rate_limited") == before + 1


def test_rate_limiter_slides_over_one_minute() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    now[0] = 59.9
    assert not limiter.try_acquire()
    now[0] = 60.0
    assert [limiter.try_acquire() for _ in range(3)] == [True, True, False]
    unlimited = RateLimiter(0)
    assert all(unlimited.try_acquire() for _ in range(1000))


# Privacy


async def test_prompt_and_logs_hold_no_personal_data(
    fake_llm: FakeLLM, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    email, username = "jane.doe@example.com", "janedoe"
    customer_key = "user-4f1c9a"
    service = make_service()
    caplog.set_level(logging.DEBUG, logger="app")

    await service.explain(request_for(customer_key=customer_key))

    [prompt] = fake_llm.prompts
    for secret in (email, username, customer_key):
        assert secret not in prompt
        assert secret not in caplog.text
    assert "WHITE METAL LANTERN" in prompt
    assert "WHITE HANGING HEART T-LIGHT HOLDER" in prompt
    assert "WHITE METAL LANTERN" not in caplog.text
    body = fake_llm.requests[0]
    assert body["model"] == "fake-model"
    assert body["max_tokens"] == 80
    assert body["temperature"] <= 0.5
    assert [message["role"] for message in body["messages"]] == ["system", "user"]
    [record] = [r for r in caplog.records if r.name == "app.llm"]
    assert record.__dict__["outcome"] == "ok"
    assert record.__dict__["model"] == "fake-model"
    assert record.__dict__["duration_ms"] >= 0


# Template and output checks


def reason(kind: str, weight: float, *names: str, category: str | None = None) -> ReasonFacts:
    return ReasonFacts(kind, weight, names, category, "")


@pytest.mark.parametrize(
    ("reasons", "category", "expected"),
    [
        (
            (
                reason(
                    "SIMILAR_TO_PURCHASED",
                    0.6,
                    "WHITE HANGING HEART T-LIGHT HOLDER",
                    "A",
                    "B",
                    category="Home décor",
                ),
                reason("SIMILAR_TO_PURCHASED", 0.1, "C"),
                reason("TRENDING", 0.3),
            ),
            "Kitchen",
            "Because you bought WHITE HANGING HEART T-LIGHT HOLDER and 3 other products from "
            "Home décor, we think you'll like this. It's also popular right now in Kitchen.",
        ),
        (
            (
                reason("SIMILAR_TO_PURCHASED", 0.6, "RED MUG", category="Kitchen"),
                reason("TRENDING", 0.4, category="Kitchen"),
            ),
            "Kitchen",
            "Because you bought RED MUG from Kitchen, we think you'll like this. "
            "It's also popular right now with shoppers.",
        ),
        (
            (reason("SIMILAR_CUSTOMERS", 0.8), reason("CONTENT_MATCH", 0.1, "MUG")),
            None,
            "Customers with tastes like yours also bought this.",
        ),
        ((reason("TRENDING", 1.0),), "Kitchen", "Popular right now in Kitchen."),
        ((reason("TRENDING", 1.0),), None, "Popular right now with shoppers."),
        (
            (
                reason("CONTENT_MATCH", 0.5, "RED MUG", "BLUE MUG"),
                reason("PREFERRED_CATEGORY", 0.5),
            ),
            "Kitchen",
            "It matches what you've been looking at: RED MUG and BLUE MUG. "
            "It's also from Kitchen, one of your favourite categories.",
        ),
        (
            (reason("PREFERRED_CATEGORY", 0.7), reason("SIMILAR_TO_PURCHASED", 0.3, "RED MUG")),
            None,
            "It's from one of your favourite categories. "
            "It's also similar to RED MUG, which you bought.",
        ),
        (
            (reason("SIMILAR_TO_PURCHASED", 1.0),),
            None,
            "It's similar to things you've bought before.",
        ),
        ((), "Kitchen", "We think you'll like this pick from Kitchen."),
        ((), None, "We think you'll like this."),
        (
            (ReasonFacts("NEW_KIND", 1.0, (), None, "bought together with your last order"),),
            None,
            "Bought together with your last order.",
        ),
    ],
)
def test_template_sentences(
    reasons: tuple[ReasonFacts, ...], category: str | None, expected: str
) -> None:
    assert template_explanation(request_for(reasons=reasons, category=category)) == expected


def test_template_shortens_long_names() -> None:
    text = template_explanation(request_for(reasons=(reason("CONTENT_MATCH", 1.0, "X" * 200),)))
    assert len(text) < 120
    assert "…" in text


@pytest.mark.parametrize(
    ("content", "finish_reason", "expected"),
    [
        ('  "You bought a lantern,\n so it fits."  ', "stop", "You bought a lantern, so it fits."),
        ("Fits your kitchen.", "length", None),
        (None, "stop", None),
        (42, "stop", None),
        ("", "stop", None),
        ("[1, 2, 3]", "stop", None),
        ("As an AI, I think so.", "stop", None),
        ("!!! ??? ... 123 456", "stop", None),
    ],
)
def test_usable_text(content: Any, finish_reason: str, expected: str | None) -> None:
    assert usable_text(content, finish_reason) == expected


# Cache layer


@pytest.fixture
def cache_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    caplog.set_level(logging.INFO, logger="app.cache")
    yield lambda: [r.getMessage() for r in caplog.records if r.name == "app.cache"]


async def test_cache_round_trip_and_hit_miss_counters(redis_namespace: str) -> None:
    cache = Cache("test-layer", REDIS_URL, namespace=redis_namespace)
    hits = metric("recommender_cache_requests_total", layer="test-layer", outcome="hit")
    misses = metric("recommender_cache_requests_total", layer="test-layer", outcome="miss")
    try:
        assert await cache.get("k") is None
        await cache.set("k", {"items": [1, 2], "when": 1.5}, ttl=60)
        assert await cache.get("k") == {"items": [1, 2], "when": 1.5}
        await cache.delete("k")
        assert await cache.get("k") is None
        assert cache.backend == "redis"
    finally:
        await cache.close()
    assert metric("recommender_cache_requests_total", layer="test-layer", outcome="hit") == hits + 1
    assert (
        metric("recommender_cache_requests_total", layer="test-layer", outcome="miss") == misses + 2
    )


async def test_cache_ttl_expires(redis_namespace: str) -> None:
    caches = [Cache("ttl"), Cache("ttl", REDIS_URL, namespace=redis_namespace)]
    try:
        for cache in caches:
            await cache.set("k", "v", ttl=1)
            assert await cache.get("k") == "v"
        await asyncio.sleep(1.1)
        for cache in caches:
            assert await cache.get("k") is None
    finally:
        for cache in caches:
            await cache.close()


async def test_build_cache_follows_settings() -> None:
    memory = build_cache(Settings(redis_url=None), "recommendations")
    remote = build_cache(Settings(redis_url=REDIS_URL), "recommendations")
    assert (memory.backend, memory.namespace) == ("memory", "recommender:recommendations")
    assert remote.backend == "redis"
    await memory.close()
    await remote.close()


async def test_cache_falls_back_to_memory_when_redis_is_unreachable(
    cache_warnings: Callable[[], list[str]],
) -> None:
    cache = Cache("down", CLOSED_REDIS_URL)
    started = time.perf_counter()
    try:
        await cache.set("k", "v", ttl=60)
        assert await cache.get("k") == "v"
        assert await cache.get("other") is None
        await cache.delete("k")
        assert await cache.get("k") is None
    finally:
        await cache.close()
    assert time.perf_counter() - started < 1.0
    assert cache.backend == "memory"
    [warning] = cache_warnings()
    assert "Redis unavailable" in warning


async def test_cache_times_out_on_a_silent_redis(
    cache_warnings: Callable[[], list[str]],
) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cache = Cache("silent", f"redis://127.0.0.1:{port}/0", redis_timeout_seconds=0.2)
    try:
        started = time.perf_counter()
        await cache.set("k", "v")
        assert await cache.get("k") == "v"
        assert time.perf_counter() - started < 1.0
        assert cache.backend == "memory"
    finally:
        release.set()
        await cache.close()
        server.close()
        await server.wait_closed()
    assert len(cache_warnings()) == 1


async def test_cache_returns_to_redis_after_the_outage(
    redis_namespace: str, cache_warnings: Callable[[], list[str]]
) -> None:
    """A TCP proxy to the local Redis, closed then opened, plays the outage and the recovery."""
    proxy = TcpProxy("127.0.0.1", 6379)
    cache = Cache(
        "outage",
        f"redis://127.0.0.1:{proxy.port}/0",
        namespace=redis_namespace,
        redis_retry_after_seconds=0.3,
    )
    try:
        await cache.set("during-outage", "memory", ttl=60)
        assert cache.backend == "memory"
        proxy.restore()
        assert await cache.get("during-outage") == "memory"
        await asyncio.sleep(0.35)
        await cache.set("after", "redis", ttl=60)
        assert cache.backend == "redis"
        assert await cache.get("after") == "redis"
        assert await cache.get("during-outage") is None
    finally:
        await cache.close()
        proxy.close()
    messages = cache_warnings()
    assert len(messages) == 2
    assert "Redis unavailable" in messages[0]
    assert "reachable again" in messages[1]


async def test_unreadable_redis_entry_is_a_miss(redis_namespace: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    cache = Cache("unreadable", REDIS_URL, namespace=redis_namespace)
    try:
        await client.set(f"{redis_namespace}:bad", b"not a pickle", ex=60)
        assert await cache.get("bad") is None
        assert cache.backend == "redis"
    finally:
        await client.aclose()
        await cache.close()
