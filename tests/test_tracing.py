"""Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, operations are exported over OTLP/HTTP to a real
receiver on loopback."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from app.settings import Settings
from tests.conftest import running_client

trace_service = pytest.importorskip(
    "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    reason="the `otel` dependency group is not installed",
)


class Receiver(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP protobuf exports at /v1/traces and keeps each span's name."""

    spans: ClassVar[list[str]] = []
    paths: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.paths.append(self.path)
        request = trace_service.ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(span.name for span in scope_spans.spans)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.spans, Receiver.paths = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_operations_are_traced_to_the_otlp_endpoint(
    sample_database_url: str, tmp_path: Path, receiver: str
) -> None:
    settings = Settings(
        database_url=sample_database_url,
        model_dir=tmp_path / "models",
        rate_limit_points_per_minute=0,
        otel_exporter_otlp_endpoint=receiver,
    )
    async with running_client(settings) as client:
        await client.data("query Traced { me { id } }")
    # Leaving the app flushed the batch to the receiver.
    assert "/v1/traces" in Receiver.paths
    assert "GraphQL Query: Traced" in Receiver.spans
    assert any(name.startswith("GraphQL Parsing") for name in Receiver.spans)
