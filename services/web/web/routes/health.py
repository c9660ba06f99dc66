"""/healthz for probes, /metrics for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from web.deps import Resources

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(resources: Resources) -> dict[str, object]:
    """Alive and able to take requests: the search pool's use is reported."""
    pool = resources.searches
    return {"status": "ok", "searches_in_use": pool.in_use, "search_capacity": pool.capacity}


@router.get("/metrics", include_in_schema=False)
def metrics(resources: Resources) -> Response:
    resources.metrics.searches_in_use.set(resources.searches.in_use)
    return Response(generate_latest(resources.metrics.registry), media_type=CONTENT_TYPE_LATEST)
