"""Helpers shared by the benchmarks: temporary databases, real server processes, timing."""

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DATASET = Path(os.environ.get("DATASET_DIR", ROOT.parent / "shared" / "datasets" / "online-retail"))
PG_DSN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CLI = [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def temporary_database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL for `sqlite` or `postgresql`; removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite+aiosqlite:///{directory}/bench.sqlite"
        return
    name = f"rec_bench_{uuid.uuid4().hex[:10]}"
    subprocess.run(["psql", PG_DSN, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield f"postgresql+asyncpg://{PG_DSN.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    finally:
        subprocess.run(
            ["psql", PG_DSN, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True
        )


def run_cli(
    url: str, *args: str, extra_env: dict[str, str] | None = None
) -> tuple[float, int, str]:
    """Run `recommender ARGS` against `url`: (wall seconds, peak RSS in MB, stdout)."""
    env = {**os.environ, "DATABASE_URL": url, **(extra_env or {})}
    started = time.perf_counter()
    process = subprocess.Popen([*CLI, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    stdout = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"recommender {' '.join(args)} failed")
    return time.perf_counter() - started, usage.ru_maxrss // 1024, stdout


@dataclass
class RunningServer:
    base: str
    process: subprocess.Popen[bytes]


def wait_ready(base: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server at {base} did not become ready")


@contextlib.contextmanager
def server_process(
    url: str,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
    wait: bool = True,
) -> Iterator[RunningServer]:
    """A real `recommender serve` process on loopback, stopped with SIGTERM afterwards."""
    port = port or free_port()
    env = {**os.environ, "DATABASE_URL": url, **(extra_env or {})}
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = RunningServer(f"http://127.0.0.1:{port}", process)
    try:
        if wait:
            wait_ready(running.base)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def server(
    url: str,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[str]:
    """As `server_process`, yielding only the base URL once /readyz is 200."""
    with server_process(url, port, extra_env, workers) as running:
        yield running.base


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 of durations given in seconds, in milliseconds."""
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(percentile(samples, 95) * 1000, 2),
        "p99_ms": round(percentile(samples, 99) * 1000, 2),
    }


def customer_tokens(url: str, count: int, secret: str) -> list[str]:
    """Bearer tokens for the `count` customers with the most events (warm customers)."""
    import asyncio

    from sqlalchemy import func, select

    from app.auth import issue_token
    from app.db import create_engine
    from app.models import Interaction
    from app.settings import Settings

    settings = Settings(database_url=url, jwt_secret=secret)

    async def most_active() -> list[int]:
        engine = create_engine(settings)
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Interaction.user_id)
                .group_by(Interaction.user_id)
                .order_by(func.count().desc(), Interaction.user_id)
                .limit(count)
            )
            ids = [row[0] for row in rows]
        await engine.dispose()
        return ids

    return [issue_token(settings, user_id, "customer") for user_id in asyncio.run(most_active())]


def wrk(
    base: str,
    body: str,
    tokens: list[str],
    seconds: int,
    connections: int,
    script: str = "graphql.lua",
    extra_env: dict[str, str] | None = None,
) -> dict:
    """Run wrk against `base`/graphql with a GraphQL body (or what `script`, a file of
    bench/wrk/, makes with `extra_env`); returns its JSON summary."""
    import json

    with tempfile.TemporaryDirectory() as directory:
        body_file = Path(directory) / "body.json"
        body_file.write_text(body)
        tokens_file = Path(directory) / "tokens.txt"
        tokens_file.write_text("\n".join(tokens))
        env = {
            **os.environ,
            "BODY_FILE": str(body_file),
            "TOKENS_FILE": str(tokens_file) if tokens else "",
            **(extra_env or {}),
        }
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",  # a slow answer counts in the latency tail, not as a socket error
                "--latency",
                "-s",
                str(ROOT / "bench" / "wrk" / script),
                base,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


@contextlib.contextmanager
def minimal_server() -> Iterator[str]:
    """The reference Strawberry app (`{ __typename }`) under uvicorn on loopback."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.minimal_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{base}/", json={"query": "{ __typename }"}, timeout=1)
                break
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
