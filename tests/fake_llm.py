"""A real OpenAI-compatible chat completions server for tests, served by uvicorn in a thread.

One server per test process (started on first use, on 127.0.0.1 and a free port); the
function-scoped `fake_llm` fixture resets it. Tests steer it through `FakeLLM`: `delay` (seconds
before every answer), `content` (the text of "ok" answers), `mode` (how to answer when the queue
is empty), `fail_next(*modes)` (one-shot modes for the next requests, in order) and read
`requests` (every request body, in arrival order).
"""

import asyncio
import atexit
import itertools
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any, Literal

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Mode = Literal["ok", "rate_limit", "server_error", "bad_request", "garbage", "empty", "hang"]
DEFAULT_CONTENT = "You may like this because it goes well with the things you bought recently."
HANG_SECONDS = 30.0


class FakeLLM:
    """Control and record of the fake server; attributes may be changed at any time by tests.

    Modes: "ok" answers `content`; "rate_limit" is a 429 with `Retry-After: retry_after`;
    "server_error" a 500; "bad_request" a 400; "garbage" a 200 whose body is not JSON; "empty" a
    200 with empty content; "hang" answers nothing until `reset()` or HANG_SECONDS.
    """

    def __init__(self) -> None:
        self.base_url = ""
        self._lock = threading.Lock()
        self._queue: deque[Mode] = deque()
        self._requests: list[dict[str, Any]] = []
        self._hangs: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._ids = itertools.count(1)
        self.delay = 0.0
        self.content = DEFAULT_CONTENT
        self.mode: Mode = "ok"
        self.retry_after = "0"

    def reset(self) -> None:
        """Back to defaults: no delay, "ok" answers, empty queue and record; releases hangs."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            hangs = list(self._hangs)
        for loop, release in hangs:
            loop.call_soon_threadsafe(release.set)
        self.delay = 0.0
        self.content = DEFAULT_CONTENT
        self.mode = "ok"
        self.retry_after = "0"

    def fail_next(self, *modes: Mode) -> None:
        """Answer the next `len(modes)` requests with these modes, in order."""
        with self._lock:
            self._queue.extend(modes)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A copy of every request body received since the last reset, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def prompts(self) -> list[str]:
        """Each request's message contents joined by newlines, oldest first."""
        return [
            "\n".join(str(message.get("content", "")) for message in body.get("messages", []))
            for body in self.requests
        ]

    def _next(self, body: dict[str, Any]) -> Mode:
        with self._lock:
            self._requests.append(body)
            return self._queue.popleft() if self._queue else self.mode

    async def _hang(self) -> None:
        release = asyncio.Event()
        hang = (asyncio.get_running_loop(), release)
        with self._lock:
            self._hangs.add(hang)
        try:
            await asyncio.wait_for(release.wait(), HANG_SECONDS)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._hangs.discard(hang)

    async def handle(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": {"message": "body is not JSON"}}, status_code=400)
        mode = self._next(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if mode == "hang":
            await self._hang()
            return JSONResponse({"error": {"message": "hung"}}, status_code=504)
        if mode == "rate_limit":
            return JSONResponse(
                {"error": {"message": "Rate limit reached", "type": "requests", "code": None}},
                status_code=429,
                headers={"Retry-After": self.retry_after},
            )
        if mode == "server_error":
            return JSONResponse(
                {"error": {"message": "The server had an error", "type": "server_error"}},
                status_code=500,
            )
        if mode == "bad_request":
            return JSONResponse(
                {"error": {"message": "Invalid request", "type": "invalid_request_error"}},
                status_code=400,
            )
        if mode == "garbage":
            return Response("{'choices': [oops", media_type="application/json")
        content = "" if mode == "empty" else self.content
        return JSONResponse(self._completion(body, content))

    def _completion(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        messages = body.get("messages", [])
        prompt_tokens = sum(len(str(message.get("content", "")).split()) for message in messages)
        completion_tokens = len(content.split())
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class FakeLLMServer:
    """uvicorn serving one `FakeLLM` on 127.0.0.1 in a daemon thread."""

    def __init__(self) -> None:
        self.fake = FakeLLM()
        app = Starlette(routes=[Route("/v1/chat/completions", self.fake.handle, methods=["POST"])])
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.fake.base_url = f"http://127.0.0.1:{port}/v1"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.fake.reset()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()


_server: FakeLLMServer | None = None
_server_lock = threading.Lock()


def fake_llm_server() -> FakeLLMServer:
    """The process-wide server, started on first call and stopped at interpreter exit."""
    global _server
    with _server_lock:
        if _server is None:
            server = FakeLLMServer()
            server.start()
            atexit.register(server.stop)
            _server = server
        return _server


@pytest.fixture(name="fake_llm")
def fake_llm_fixture() -> Iterator[FakeLLM]:
    """The fake server, reset before and after the test; `base_url` ends in "/v1"."""
    fake = fake_llm_server().fake
    fake.reset()
    yield fake
    fake.reset()
