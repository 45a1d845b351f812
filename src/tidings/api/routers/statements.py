"""/v1/account/statements: the caller's monthly usage statements (accounting records)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from tidings.accounts.service import Principal
from tidings.api.deps import reader, runtime
from tidings.api.responses import JsonResponse
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1/account/statements", tags=["account"])


@router.get("", summary="This account's monthly statements, newest first")
def list_statements(
    period: str | None = Query(default=None, max_length=20, description="Only this month: YYYY-MM"),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
    caller: Principal = Depends(reader),
    rt: Runtime = Depends(runtime),
) -> JsonResponse:
    page = rt.statements.entries(
        account_id=caller.account_id, period=period, cursor=cursor, limit=limit
    )
    return JsonResponse(page)


@router.get("/{statement_id}", summary="One statement, with its lines")
def get_statement(
    statement_id: str, caller: Principal = Depends(reader), rt: Runtime = Depends(runtime)
) -> JsonResponse:
    return JsonResponse(rt.statements.get(statement_id, caller.account_id))
