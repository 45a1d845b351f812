"""/v1/admin/retention: the audit of retention sweeps, for the operator."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from tidings.accounts.service import Principal
from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1/admin/retention", tags=["admin"])


@router.get("/log", summary="Past retention sweeps and what each did")
def retention_log(
    limit: int = Query(20, ge=1, le=1000),
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(operator),
) -> JsonResponse:
    return JsonResponse({"data": rt.retention.log(limit)})
