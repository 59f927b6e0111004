"""Prometheus metrics of the process, registered once in the default registry.

Every name starts with `recommender_`; durations are in seconds. Add new metrics here, grouped by
subsystem, so that `/metrics` (prometheus_client's default registry) exposes them all.

With `PROMETHEUS_MULTIPROC_DIR` set (`recommender serve --workers N` sets it), every worker
writes its samples to files there and `exposition()` adds them up, so a scrape that reaches any
worker sees the whole server; gauges then say how they combine (`multiprocess_mode`).
"""

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposition() -> bytes:
    """The text of `/metrics`: this process's registry, or every worker's with multiprocess."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


LLM_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)

# Cache (layers: recommendations, explanations, responses, documents)

CACHE_REQUESTS = Counter(
    "recommender_cache_requests_total",
    "Cache lookups by layer and outcome (hit|miss).",
    ["layer", "outcome"],
)

# LLM explanations

LLM_CALLS = Counter(
    "recommender_llm_calls_total",
    "LLM explanation attempts by final outcome (ok|error|timeout|rate_limited|unusable), "
    "one per explanation that tried the LLM, retries included.",
    ["outcome"],
)
LLM_LATENCY = Histogram(
    "recommender_llm_latency_seconds",
    "Wall time of an LLM explanation call, retries and backoff included.",
    buckets=LLM_LATENCY_BUCKETS,
)
EXPLANATIONS = Counter(
    "recommender_explanations_total",
    "Explanations served by source (LLM|TEMPLATE) and whether they came from the cache.",
    ["source", "cached"],
)

# GraphQL

GRAPHQL_LATENCY = Histogram(
    "recommender_graphql_operation_seconds",
    "Wall time of GraphQL operations by operation name (`anonymous` when unnamed) and type.",
    ["operation", "type"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
GRAPHQL_ERRORS = Counter(
    "recommender_graphql_errors_total",
    "GraphQL errors returned to clients by `extensions.code`.",
    ["code"],
)

# Recommendation model and serving

MODEL_TRAINING = Histogram(
    "recommender_model_training_seconds",
    "Wall time of fitting one engine config's model (trainer process only).",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
MODEL_FITS = Counter(
    "recommender_model_fits_total",
    "Models fitted by this process: always 0 in an API process (only the trainer trains).",
)
TRAINER_ROUND = Histogram(
    "recommender_trainer_round_seconds",
    "Wall time of a trainer round that trained: reading events, fitting every stale config, "
    "writing and announcing its artifacts (trainer process only).",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
MODEL_VERSION = Gauge(
    "recommender_model_version",
    "Version of the `default` config's model serving in this process (0 until one is loaded).",
    multiprocess_mode="max",
)
MODEL_CONFIG_VERSION = Gauge(
    "recommender_model_config_version",
    "Version of the model serving each engine config in this process (absent until loaded).",
    ["config"],
    multiprocess_mode="max",
)
MODEL_TRAINED_AT = Gauge(
    "recommender_model_trained_timestamp_seconds",
    "When the serving model of each engine config finished training (Unix time); its age is "
    "`time() - this`, also with several workers.",
    ["config"],
    multiprocess_mode="max",
)
MODEL_AGE = Gauge(
    "recommender_model_age_seconds",
    "Seconds since the serving model of each engine config finished training, at scrape time.",
    ["config"],
)
MODEL_LOADS = Counter(
    "recommender_model_loads_total",
    "Models this process started serving, by origin (shared: a published artifact).",
    ["origin"],
)
MODEL_LOAD_SECONDS = Histogram(
    "recommender_model_load_seconds",
    "Wall time of loading and verifying a published artifact (in a worker thread).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
MODEL_REFUSED = Counter(
    "recommender_model_artifacts_refused_total",
    "Published artifacts refused (corrupt, truncated, tampered or of an unknown format).",
)
EVENT_LOOP_LAG = Histogram(
    "recommender_event_loop_lag_seconds",
    "How late a 0.1 s sleep on the API's event loop wakes up: time the loop was blocked.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RECOMMENDATIONS_SERVED = Counter(
    "recommender_recommendations_served_total",
    "Recommended products returned to clients (list items).",
)
RECOMMENDATION_FOLLOW_UPS = Counter(
    "recommender_recommendation_followups_total",
    "Customer events on a product recommended to them within the previous 24 hours, by event "
    "type: the click-through (and conversion) numerator.",
    ["type"],
)

# Event ingestion (group commit)

EVENT_TRANSACTIONS = Counter(
    "recommender_event_transactions_total",
    "Transactions of the event write path (one per committed group of calls).",
)
EVENTS_RECORDED = Counter(
    "recommender_events_recorded_total",
    "Events stored by the write path (retried client event ids not counted).",
)
EVENT_GROUP_SIZE = Histogram(
    "recommender_event_group_size",
    "New events per committed group.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)

# Database reads (app/database.py: primary and read replicas)

DB_READS = Counter(
    "recommender_db_reads_total",
    "Read sessions by the server they went to (primary|replica).",
    ["target"],
)
DB_READ_FALLBACKS = Counter(
    "recommender_db_read_fallbacks_total",
    "Replicas a read skipped (it went to the next replica or the primary), by reason: down "
    "(failed its last health check), lag (beyond DATABASE_REPLICA_MAX_LAG_SECONDS), own_write "
    "(has not applied the reading customer's last write yet), error (connecting failed).",
    ["reason"],
)
DB_REPLICA_LAG = Gauge(
    "recommender_db_replica_lag_seconds",
    "How far each replica was behind the primary at its last health check (+Inf: down or "
    "unknown), by replica (host:port/database).",
    ["replica"],
)
