"""Training apart from serving: the trainer process publishes artifacts, API processes only load
them. Real processes (uvicorn via `recommender serve`, `recommender trainer`) on temporary
SQLite databases; tampered artifacts are refused while the previous model keeps serving."""

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from bench._support import CLI, DATASET, ROOT, free_port, run_cli, server_process
from tests.conftest import SAMPLE_DIR, fresh_database, running_client, train

RECOMMEND = "{ recommendations(first: 10) { rank product { id } reasons { kind } } }"
MODEL_INFO = "{ modelInfo { version events } }"
RECORD = """mutation($id: ID!, $type: InteractionType!) {
  recordInteraction(productId: $id, type: $type) { interaction { id } errors { code } } }"""
ADMIN_PASSWORD = "trainer-admin-password"


def metric(text: str, series: str) -> float | None:
    match = re.search(rf"^{re.escape(series)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


class Api:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30)

    def data(self, query: str, variables: dict | None = None, token: str | None = None) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        ).json()
        assert "errors" not in body, body
        return body["data"]

    def login(self, username: str, password: str) -> str:
        payload = self.data(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
            "{ token errors { message } } }",
            {"u": username, "p": password},
        )["login"]
        return payload["token"]

    def register(self) -> str:
        name = f"t-{uuid.uuid4().hex[:10]}"
        return self.data(
            "mutation($u: String!, $e: String!) { register(username: $u, email: $e, "
            'password: "trainer-password") { token } }',
            {"u": name, "e": f"{name}@example.com"},
        )["register"]["token"]

    def product_ids(self, first: int = 20) -> list[str]:
        page = self.data(
            "query($n: Int!) { products(first: $n) { edges { node { id } } } }", {"n": first}
        )
        return [edge["node"]["id"] for edge in page["products"]["edges"]]

    def model_version(self, admin: str) -> int | None:
        info = self.data(MODEL_INFO, token=admin)["modelInfo"]
        return info["version"] if info else None

    def metrics(self) -> str:
        return self.http.get("/metrics").text


@contextlib.contextmanager
def trainer_process(url: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`recommender trainer` as its own process; stopped with SIGTERM afterwards."""
    process = subprocess.Popen(
        [*CLI, "trainer"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition, seconds: float, every: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {seconds} s")


def process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment of an API process that never starts a trainer, polling for models every
    0.5 s, with its own secret and model folder under `tmp_path`; `extra` adds or overrides."""
    return {
        "JWT_SECRET": secrets.token_urlsafe(32),
        "MODEL_DIR": str(tmp_path / "models"),
        "TRAINER": "external",
        "RATE_LIMIT_POINTS_PER_MINUTE": "0",
        "MODEL_POLL_SECONDS": "0.5",
        **extra,
    }


@pytest.fixture
def sample_sqlite(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated SQLite database with the sample and an admin; (url, environment)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    env = process_env(tmp_path, RECOMMENDATION_CACHE_TTL_SECONDS="0")
    run_cli(url, "db", "upgrade", extra_env=env)
    run_cli(url, "import", str(SAMPLE_DIR), extra_env=env)
    run_cli(
        url,
        *("create-admin", "--username", "boss", "--email", "boss@example.com"),
        *("--password", ADMIN_PASSWORD),
        extra_env=env,
    )
    yield url, env


def test_the_api_never_trains_and_serves_popular_products_until_a_model_is_published(
    sample_sqlite: tuple[str, dict[str, str]],
) -> None:
    url, env = sample_sqlite
    with server_process(url, extra_env=env) as running:
        api = Api(running.base)
        admin = api.login("boss", ADMIN_PASSWORD)
        token = api.register()
        items = api.data(RECOMMEND, token=token)["recommendations"]
        assert [item["rank"] for item in items] == list(range(1, 11))
        assert {reason["kind"] for item in items for reason in item["reasons"]} == {"TRENDING"}
        trending = api.data("{ trending(first: 10) { id } }")["trending"]
        assert [item["product"]["id"] for item in items] == [p["id"] for p in trending]
        first = trending[0]["id"]
        similar = api.data(
            "query($id: ID!) { product(id: $id) { similar(first: 5) { id } } }", {"id": first}
        )["product"]["similar"]
        assert [p["id"] for p in similar] == [p["id"] for p in trending[1:6]]
        for product_id in api.product_ids()[:5]:
            api.data(RECORD, {"id": product_id, "type": "PURCHASE"}, token)
        time.sleep(3)  # several poll intervals: nothing is published, and nothing trains here
        assert api.model_version(admin) is None
        metrics = api.metrics()
        assert metric(metrics, "recommender_model_fits_total") == 0.0
        assert metric(metrics, "recommender_model_training_seconds_count") == 0.0
        assert metric(metrics, "recommender_model_version") == 0.0
        assert not list((Path(env["MODEL_DIR"])).glob("*/*"))


def test_a_new_model_reaches_the_api_without_a_restart(
    sample_sqlite: tuple[str, dict[str, str]],
) -> None:
    url, env = sample_sqlite
    trainer_env = {
        **env,
        "MODEL_RETRAIN_EVENTS": "4",
        "TRAINER_POLL_SECONDS": "0.5",
        "TRAINER_METRICS_PORT": str(free_port()),
    }
    with server_process(url, extra_env=env) as running:
        api = Api(running.base)
        admin = api.login("boss", ADMIN_PASSWORD)
        assert api.model_version(admin) is None
        with trainer_process(url, trainer_env):
            assert wait_for(lambda: api.model_version(admin), 60) == 1
            token = api.register()
            for product_id in api.product_ids()[:4]:
                api.data(RECORD, {"id": product_id, "type": "CART_ADD"}, token)
            assert wait_for(lambda: (api.model_version(admin) or 0) >= 2, 60)
            events = api.data(MODEL_INFO, token=admin)["modelInfo"]["events"]
            assert events >= 13_000 + 4
            personal = api.data(RECOMMEND, token=token)["recommendations"]
            assert any(r["kind"] != "TRENDING" for item in personal for r in item["reasons"])
            trainer_metrics = httpx.get(
                f"http://127.0.0.1:{trainer_env['TRAINER_METRICS_PORT']}/metrics"
            ).text
            assert (metric(trainer_metrics, "recommender_model_fits_total") or 0) >= 2
            assert (metric(trainer_metrics, "recommender_trainer_round_seconds_count") or 0) >= 2
        metrics = api.metrics()
        assert metric(metrics, "recommender_model_fits_total") == 0.0
        assert metric(metrics, "recommender_model_version") >= 2
        assert metric(metrics, 'recommender_model_config_version{config="default"}') >= 2
        assert (metric(metrics, 'recommender_model_age_seconds{config="default"}') or -1) >= 0
        assert metric(metrics, "recommender_model_load_seconds_count") >= 2


def test_a_second_trainer_waits_for_the_first(
    sample_sqlite: tuple[str, dict[str, str]],
) -> None:
    """Two trainers over one database: one round publishes version 1, the other then finds the
    model fresh and publishes nothing (no version 2 while nothing is stale)."""
    url, env = sample_sqlite
    trainer_env = {**env, "TRAINER_POLL_SECONDS": "0.3"}
    with trainer_process(url, trainer_env), trainer_process(url, trainer_env):
        with server_process(url, extra_env=env) as running:
            api = Api(running.base)
            admin = api.login("boss", ADMIN_PASSWORD)
            assert wait_for(lambda: api.model_version(admin), 60) == 1
            time.sleep(3)
            assert api.model_version(admin) == 1
    assert len(list(Path(env["MODEL_DIR"]).glob("default/*"))) == 1


# --- tampered artifacts ------------------------------------------------------------------------


def _flip_byte(directory: Path) -> str:
    target = max(directory.glob("*.npy"), key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    return target.name


def _truncate(directory: Path) -> str:
    target = max(directory.glob("*.npy"), key=lambda p: p.stat().st_size)
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    return target.name


def _change_shape(directory: Path) -> str:
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    name, spec = next(iter(manifest["files"].items()))
    spec["shape"] = [spec["shape"][0] + 1, *spec["shape"][1:]] if spec["shape"] else [1]
    manifest_path.write_text(json.dumps(manifest))
    return name


def _unknown_format(directory: Path) -> str:
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    return "format_version"


@pytest.mark.parametrize(
    "tamper", [_flip_byte, _truncate, _change_shape, _unknown_format], ids=lambda f: f.__name__
)
async def test_a_tampered_artifact_is_refused_and_the_previous_model_keeps_serving(
    tmp_path: Path,
    tamper,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    async with fresh_database("sqlite", tmp_path) as url:
        from app.db import create_engine
        from app.services.imports import import_dataset

        engine = create_engine(Settings(database_url=url))
        await import_dataset(engine, SAMPLE_DIR)
        await engine.dispose()
        settings = Settings(
            database_url=url,
            model_dir=tmp_path / "models",
            model_poll_seconds=3600,
            rate_limit_points_per_minute=0,
        )
        async with running_client(settings, trained=True) as client:
            registry = client.app.state.services.recommendations.registry
            assert registry.current().version == 1
            token, _ = await client.register("tamper")
            before = (await client.data(RECOMMEND, token=token))["recommendations"]

            await train(settings)
            announcement = await registry._announcements.latest("default")
            assert announcement.version == 2
            culprit = tamper(settings.model_dir / announcement.artifact)
            caplog.set_level(logging.ERROR, logger="app.services.model_registry")
            assert await registry.refresh() == []
            assert registry.current().version == 1
            refused = [r for r in caplog.records if r.getMessage().startswith("model artifact ref")]
            assert refused and announcement.artifact in refused[0].error
            assert culprit in refused[0].error
            assert (await client.data(RECOMMEND, token=token))["recommendations"] == before
            admin = await client.admin_token()
            info = await client.data(MODEL_INFO, token=admin)
            assert info["modelInfo"]["version"] == 1

            await train(settings)
            assert [model.version for model in await registry.refresh()] == [3]
            assert registry.current().version == 3


# --- the event loop while a trainer trains beside the API --------------------------------------


@pytest.mark.slow
def test_the_api_keeps_answering_while_a_trainer_trains(tmp_path: Path) -> None:
    """A `{ __typename }` probe every 50 ms during a full Online Retail training round and the
    swap to its model: no answer stalls for the seconds a training takes (as when the API
    trained itself). The bound is loose on purpose, so that a busy machine cannot fail it; the
    latency tail is measured by `bench/model_swap.py`."""
    if not (DATASET / "products.csv").exists():
        pytest.skip(f"the Online Retail data set is not at {DATASET}")
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    env = process_env(tmp_path, TRAINER_POLL_SECONDS="0.5")
    run_cli(url, "db", "upgrade", extra_env=env)
    run_cli(url, "import", str(DATASET), extra_env=env)
    with server_process(url, extra_env=env) as running:
        gaps: list[float] = []
        stop = threading.Event()

        def probe() -> None:
            with httpx.Client(base_url=running.base, timeout=10) as http:
                while not stop.is_set():
                    started = time.perf_counter()
                    response = http.post("/graphql", json={"query": "{ __typename }"})
                    assert response.json()["data"] == {"__typename": "Query"}
                    gaps.append(time.perf_counter() - started)
                    time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            started = time.monotonic()
            with trainer_process(url, env) as trainer:
                metrics = lambda: httpx.get(f"{running.base}/metrics").text  # noqa: E731
                wait_for(lambda: metric(metrics(), "recommender_model_version"), 300, every=0.5)
                trained_for = time.monotonic() - started
                time.sleep(1.0)
                assert trainer.poll() is None
        finally:
            stop.set()
            prober.join(timeout=30)
    assert trained_for > 2, "training was too short to prove anything"
    assert len(gaps) > trained_for / 0.2
    assert max(gaps) < min(2.0, trained_for / 2), (
        f"slowest answer {max(gaps):.3f} s during {trained_for:.1f} s of training"
    )


def test_a_trainer_killed_mid_round_leaves_no_half_published_version(
    sample_sqlite: tuple[str, dict[str, str]],
) -> None:
    url, env = sample_sqlite
    env = {**env, "TRAINER_LOCK_SECONDS": "5"}  # the dead trainer's lease expires this soon
    models = Path(env["MODEL_DIR"])
    with trainer_process(url, env) as doomed:
        wait_for(lambda: (models / ".staging").exists() or doomed.poll() is not None, 60, 0.01)
        doomed.kill()
        doomed.wait()
    assert not list(models.glob("default/*"))
    with server_process(url, extra_env=env) as running:
        api = Api(running.base)
        admin = api.login("boss", ADMIN_PASSWORD)
        assert api.model_version(admin) is None
        with trainer_process(url, {**env, "TRAINER_POLL_SECONDS": "0.3"}):
            assert wait_for(lambda: api.model_version(admin), 60) == 1
    assert len(list(models.glob("default/*"))) == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_replica_on_another_host_loads_artifacts_from_the_database(
    backend: str, tmp_path: Path
) -> None:
    """MODEL_STORE=database: the API's MODEL_DIR starts empty (another host); it downloads the
    announced version's files from `model_files`, verifies and serves them."""
    async with fresh_database(backend, tmp_path) as url:
        from app.db import create_engine
        from app.services.imports import import_dataset

        engine = create_engine(Settings(database_url=url))
        await import_dataset(engine, SAMPLE_DIR)
        await engine.dispose()
        common = {"database_url": url, "model_store": "database", "model_poll_seconds": 3600}
        trainer_host = Settings(**common, model_dir=tmp_path / "trainer-host")
        api_host = Settings(**common, model_dir=tmp_path / "api-host")
        await train(trainer_host)
        await train(trainer_host)
        async with running_client(api_host) as client:
            model = client.app.state.services.recommendations.model()
            assert model is not None and model.version == 2
            assert (api_host.model_dir / model.artifact / "manifest.json").is_file()
            token, _ = await client.register("remote")
            items = (await client.data(RECOMMEND, token=token))["recommendations"]
            assert len(items) == 10

            await train(trainer_host)
            registry = client.app.state.services.recommendations.registry
            assert [loaded.version for loaded in await registry.refresh()] == [3]
            assert [path.name[:6] for path in (api_host.model_dir / "default").iterdir()] == [
                "000003"
            ]
            assert len((await client.data(RECOMMEND, token=token))["recommendations"]) == 10
