"""OpenTelemetry traces, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (OTLP over HTTP).

The spans come from Strawberry's `OpenTelemetryExtension` (operation, parsing, validation and
each resolver); this module only builds the tracer provider and its exporter. The OpenTelemetry
SDK is the optional dependency group `otel` (`pip install "recommender[otel]"`); without it a
configured endpoint logs a warning and the server runs untraced.
"""

import logging
from typing import Any

from app.settings import Settings

log = logging.getLogger(__name__)
SERVICE_NAME = "recommender-api"


def tracer_provider(settings: Settings) -> Any | None:
    """A TracerProvider exporting to `<endpoint>/v1/traces` in batches, or None when tracing
    is off (no endpoint, or the SDK is not installed). Shut it down at exit to flush."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not "
            "installed (pip install 'recommender[otel]'): no traces"
        )
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
