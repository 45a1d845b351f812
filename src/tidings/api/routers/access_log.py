"""The API's access log: an account's admin sees its own, the operator everyone's."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from tidings.accounts.access_log import AccessLog
from tidings.accounts.service import Principal
from tidings.api.deps import admin, operator
from tidings.api.responses import JsonResponse

router = APIRouter(tags=["account"])


def _log(request: Request) -> AccessLog:
    value: AccessLog = request.app.state.access_log
    return value


@router.get("/v1/account/access-log", summary="Requests made with this account's API keys")
def account_access_log(
    request: Request,
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
    caller: Principal = Depends(admin),
) -> JsonResponse:
    return JsonResponse(_log(request).entries(caller.account_id, cursor=cursor, limit=limit))


@router.get("/v1/admin/access-log", summary="Requests of every account (operator)", tags=["admin"])
def operator_access_log(
    request: Request,
    account_id: str | None = Query(default=None, max_length=64),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
    _: Principal = Depends(operator),
) -> JsonResponse:
    return JsonResponse(_log(request).entries(account_id, cursor=cursor, limit=limit))
