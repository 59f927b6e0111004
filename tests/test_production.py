"""The production shape, proven with real processes: two API servers over PostgreSQL and
Redis on loopback, with outages played by cutting TCP proxies in front of them."""

import os
import secrets
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from bench._support import server_process, wait_ready
from tests.tcp_proxy import TcpProxy

SAMPLE = str(Path(__file__).resolve().parent.parent / "app" / "sample_data")
RECOMMEND = "{ recommendations(first: 10) { product { id } reasons { kind } } }"
RECORD = """mutation($id: ID!, $type: InteractionType!) {
  recordInteraction(productId: $id, type: $type) { interaction { id } errors { code } } }"""


def pg_url_through(url: str, proxy: TcpProxy) -> str:
    return url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")


@pytest.fixture
def shared_env() -> dict[str, str]:
    return {
        "JWT_SECRET": secrets.token_urlsafe(32),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REDIS_NAMESPACE": f"test-{uuid.uuid4().hex[:10]}",
        "MODEL_TTL_SECONDS": "3600",
        "RATE_LIMIT_POINTS_PER_MINUTE": "0",
    }


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)

    def post(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return response.json()

    def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        body = self.post(query, variables, token)
        assert "errors" not in body, body
        return body["data"]

    def register(self) -> str:
        name = f"p-{uuid.uuid4().hex[:10]}"
        payload = self.data(
            "mutation($u: String!, $e: String!) { register(username: $u, email: $e, "
            'password: "production-password") { token errors { message } } }',
            {"u": name, "e": f"{name}@example.com"},
        )["register"]
        return payload["token"]

    def product_ids(self, first: int = 20) -> list[str]:
        page = self.data(
            "query($n: Int!) { products(first: $n) { edges { node { id } } } }", {"n": first}
        )
        return [edge["node"]["id"] for edge in page["products"]["edges"]]


def recommended(api: Api, token: str) -> list[str]:
    return [item["product"]["id"] for item in api.data(RECOMMEND, token=token)["recommendations"]]


def test_an_event_through_one_replica_changes_the_other_at_once(
    postgres_sample_url: str, shared_env: dict[str, str]
) -> None:
    with (
        server_process(postgres_sample_url, extra_env=shared_env) as a,
        server_process(postgres_sample_url, extra_env=shared_env) as b,
    ):
        replica_a, replica_b = Api(a.base), Api(b.base)
        token = replica_a.register()
        before = recommended(replica_b, token)
        assert recommended(replica_b, token) == before
        for product_id in replica_a.product_ids()[5:8]:
            replica_a.data(RECORD, {"id": product_id, "type": "CART_ADD"}, token)
        changed = recommended(replica_b, token)
        assert changed != before
        replica_a.data(RECORD, {"id": changed[0], "type": "PURCHASE"}, token)
        assert changed[0] not in recommended(replica_b, token)

        metrics_b = replica_b.http.get("/metrics").text
        assert 'recommender_model_loads_total{origin="shared"} 1.0' in metrics_b
        assert (
            'recommender_cache_requests_total{layer="recommendations",outcome="hit"}' in metrics_b
        )


def test_database_outage_fails_clearly_and_recovers_without_losing_events(
    postgres_sample_url: str, shared_env: dict[str, str]
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    proxy.restore()
    env = {**shared_env, "DB_POOL_SIZE": "2"}
    try:
        with server_process(pg_url_through(postgres_sample_url, proxy), extra_env=env) as running:
            api = Api(running.base)
            token = api.register()
            products = api.product_ids()
            acknowledged = 0
            for product_id in products[:5]:
                if api.data(RECORD, {"id": product_id, "type": "VIEW"}, token)["recordInteraction"][
                    "interaction"
                ]:
                    acknowledged += 1

            proxy.cut()
            body = api.post(RECORD, {"id": products[6], "type": "VIEW"}, token)
            assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert "Traceback" not in str(body) and "asyncpg" not in str(body)
            assert api.http.get("/readyz").status_code == 503
            assert api.http.get("/healthz").status_code == 200

            proxy.restore()
            wait_ready(running.base, seconds=30)
            for product_id in products[7:9]:
                assert api.data(RECORD, {"id": product_id, "type": "VIEW"}, token)[
                    "recordInteraction"
                ]["interaction"]
                acknowledged += 1
            history = api.data(
                "{ me { interactions(first: 100) { edges { node { id } } } } }", token=token
            )
            assert len(history["me"]["interactions"]["edges"]) == acknowledged == 7
    finally:
        proxy.close()


def test_redis_outage_falls_back_to_memory_and_keeps_serving(
    postgres_sample_url: str, shared_env: dict[str, str]
) -> None:
    proxy = TcpProxy("127.0.0.1", 6379)
    proxy.restore()
    env = {**shared_env, "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/0"}
    try:
        with server_process(postgres_sample_url, extra_env=env) as running:
            api = Api(running.base)
            token = api.register()
            assert len(recommended(api, token)) == 10
            proxy.cut()
            started = time.monotonic()
            assert len(recommended(api, token)) == 10
            product = api.product_ids()[3]
            api.data(RECORD, {"id": product, "type": "PURCHASE"}, token)
            assert product not in recommended(api, token)
            assert time.monotonic() - started < 10
            proxy.restore()
            assert len(recommended(api, token)) == 10
    finally:
        proxy.close()


def test_one_replica_killed_during_load_the_other_keeps_serving(
    postgres_sample_url: str, shared_env: dict[str, str]
) -> None:
    with (
        server_process(postgres_sample_url, extra_env=shared_env) as a,
        server_process(postgres_sample_url, extra_env=shared_env) as b,
    ):
        token = Api(a.base).register()
        failures: list[str] = []
        served = 0
        stop = threading.Event()

        def load() -> None:
            nonlocal served
            api = Api(b.base)
            while not stop.is_set():
                body = api.post(RECOMMEND, token=token)
                if "errors" in body or len(body["data"]["recommendations"]) != 10:
                    failures.append(str(body)[:200])
                served += 1

        workers = [threading.Thread(target=load) for _ in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(timeout=10)
        time.sleep(2.0)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        assert failures == []
        assert served > 20
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{a.base}/healthz", timeout=2)


def test_load_benchmark_short_mode_serves_without_errors() -> None:
    """The load benchmark in short mode: two server processes on PostgreSQL sharing Redis,
    32 concurrent clients over 20 customers; only correctness is asserted, never speed."""
    import json
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.api_recommendations",
            "--backend",
            "postgresql",
            "--workers",
            "2",
            "--redis",
            "--seconds",
            "3",
            "--customers",
            "20",
            "--dataset",
            SAMPLE,
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for path in ("cached", "uncached"):  # answered from the response cache / executed
        assert report[path]["errors"] == 0
        assert report[path]["requests"] > 0


def test_sigterm_drains_requests_in_flight(
    postgres_sample_url: str, shared_env: dict[str, str]
) -> None:
    """A request still waiting on a slow LLM when SIGTERM arrives is answered in full."""
    from tests.fake_llm import fake_llm_server

    llm = fake_llm_server().fake
    llm.reset()
    llm.delay = 1.5
    env = {
        **shared_env,
        "OPENAI_API_KEY": "drain",
        "OPENAI_BASE_URL": llm.base_url,
        "LLM_TIMEOUT_SECONDS": "5",
    }
    try:
        with server_process(postgres_sample_url, extra_env=env) as running:
            api = Api(running.base)
            token = api.register()
            recommended(api, token)
            outcome: dict[str, object] = {}

            def slow_request() -> None:
                body = api.post(
                    "{ recommendations(first: 3) { explanation { text source } } }", token=token
                )
                outcome["body"] = body

            worker = threading.Thread(target=slow_request)
            worker.start()
            time.sleep(0.5)
            running.process.send_signal(signal.SIGTERM)
            worker.join(timeout=20)
            assert running.process.wait(timeout=20) in (0, -signal.SIGTERM)
            body = outcome["body"]
            assert isinstance(body, dict) and "errors" not in body
            sources = {item["explanation"]["source"] for item in body["data"]["recommendations"]}
            assert sources == {"LLM"}
    finally:
        llm.reset()
