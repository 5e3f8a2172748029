"""The hub's Prometheus collectors: requests, decisions by outcome, log appends, chain head.

Counts and timings only; no label carries anything about a child or a practitioner.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("hub_requests_total", "HTTP requests answered.", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "hub_request_seconds",
    "Time to answer a request.",
    ["route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DECISIONS = Counter("hub_decisions_total", "Disclosure decisions by outcome.", ["outcome"])
LOG_APPEND_SECONDS = Histogram(
    "hub_log_append_seconds",
    "Time to append one entry to the disclosure log (before the commit).",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1),
)
CHAIN_HEAD_SIZE = Gauge(
    "hub_log_chain_head_size",
    "Entries in the disclosure log, as of the last append this process made.",
    multiprocess_mode="max",
)
