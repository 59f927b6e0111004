"""Explanations for a list of ten, against an OpenAI-compatible server answering after 0.5 s.

Prints one JSON line: the list without explanations (baseline), the first list with explanations
(ten LLM calls, concurrent), and the same query again (all cached), with the time the cached
explanations add over the baseline. Medians over fresh customers.
"""

import json
import secrets
import statistics
import time

import httpx

from app.settings import PROJECT_ROOT
from bench._support import customer_tokens, run_cli, server, temporary_database
from tests.fake_llm import FakeLLMServer

LLM_DELAY_SECONDS = 0.5
ROUNDS = 5
BASELINE = "{ recommendations(first: 10) { score product { id name price } } }"
EXPLAINED = (
    "{ recommendations(first: 10) { score product { id name price } explanation { text } } }"
)


def timed(client: httpx.Client, query: str, token: str) -> float:
    started = time.perf_counter()
    response = client.post(
        "/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"}
    )
    elapsed = time.perf_counter() - started
    body = response.json()
    assert "errors" not in body and len(body["data"]["recommendations"]) == 10, body
    return elapsed


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> None:
    llm = FakeLLMServer()
    llm.start()
    llm.fake.delay = LLM_DELAY_SECONDS
    secret = secrets.token_urlsafe(32)
    env = {
        "JWT_SECRET": secret,
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": llm.fake.base_url,
        "LLM_REQUESTS_PER_MINUTE": "0",
    }
    first, again, baseline = [], [], []
    try:
        with temporary_database("sqlite") as url:
            run_cli(url, "db", "upgrade")
            run_cli(url, "import", str(PROJECT_ROOT / "app" / "sample_data"))
            tokens = customer_tokens(url, ROUNDS, secret)
            with (
                server(url, extra_env=env) as base,
                httpx.Client(base_url=base, timeout=60) as client,
            ):
                for token in tokens:
                    timed(client, BASELINE, token)
                    baseline.append(min(timed(client, BASELINE, token) for _ in range(5)))
                    first.append(timed(client, EXPLAINED, token))
                    again.append(min(timed(client, EXPLAINED, token) for _ in range(5)))
        calls = len(llm.fake.requests)
    finally:
        llm.stop()
    print(
        json.dumps(
            {
                "bench": "explanations",
                "llm_delay_ms": LLM_DELAY_SECONDS * 1000,
                "customers": len(tokens),
                "llm_calls": calls,
                "list_without_explanations_ms": ms(statistics.median(baseline)),
                "first_with_explanations_ms": ms(statistics.median(first)),
                "cached_with_explanations_ms": ms(statistics.median(again)),
                "cached_added_ms": ms(
                    statistics.median(a - b for a, b in zip(again, baseline, strict=True))
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
