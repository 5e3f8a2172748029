"""Prometheus metrics at /metrics (collectors in ``hub.metrics``).

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
shared by the workers (prometheus-client's multiprocess mode) and each scrape sums them;
without it, each worker reports only its own requests. Serve it to the monitoring network
only (the reverse proxy in deploy/ does not forward it).
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
