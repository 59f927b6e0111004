"""Prometheus metrics of the process, registered once in the default registry.

Every name starts with `recommender_`; durations are in seconds. Add new metrics here, grouped by
subsystem, so that `/metrics` (prometheus_client's default registry) exposes them all.
"""

from prometheus_client import Counter, Histogram

LLM_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)

# Cache

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
