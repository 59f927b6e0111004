"""Operation latency and error metrics, and the operation's name in the request log."""

import re
import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.metrics import GRAPHQL_ERRORS, GRAPHQL_LATENCY
from app.observability import annotate

OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_OPERATION_LABELS = 200
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    """A bounded label: the operation's name, `anonymous`, or `other` past 200 distinct names."""
    if not name or not OPERATION_NAME.match(name):
        return "anonymous"
    if name not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATION_LABELS:
            return "other"
        _seen_operations.add(name)
    return name


class OperationMetrics(SchemaExtension):
    """Listed before `ErrorCodes`, so it sees the final error codes when the operation ends."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        label = operation_label(context.operation_name)
        try:
            kind = context.operation_type.value
        except Exception:
            kind = "invalid"
        GRAPHQL_LATENCY.labels(operation=label, type=kind).observe(time.perf_counter() - started)
        errors = getattr(context.result, "errors", None) or []
        for error in errors:
            GRAPHQL_ERRORS.labels(code=(error.extensions or {}).get("code", "UNKNOWN")).inc()
        annotate(operation=label)
        if errors:
            annotate(errors=len(errors))
