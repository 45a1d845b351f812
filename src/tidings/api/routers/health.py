"""/healthz and /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from tidings.api.deps import runtime
from tidings.api.responses import JsonResponse
from tidings.runtime import Runtime

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness and database reachability")
def healthz(rt: Runtime = Depends(runtime)) -> JsonResponse:
    try:
        with rt.db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JsonResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
    return JsonResponse(
        {
            "status": "ok",
            "database": "ok",
            # where this process runs no connectors: the newest report of each worker node
            "connectors": [
                state for states in rt.fleet.connector_states().values() for state in states
            ],
        }
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(rt: Runtime = Depends(runtime)) -> Response:
    await run_in_threadpool(rt.refresh_queue_depth)
    return Response(generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST)
