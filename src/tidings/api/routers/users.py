"""The operator's own marketing to account users: each user's choice, and the audience.

A user's choice is the user's own: these endpoints take the user's email and password
(HTTP Basic), not an API key, which belongs to the account rather than to a person.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import MarketingChoice
from tidings.core.errors import Unauthorized
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["users"])
_basic = HTTPBasic(auto_error=False, description="The user's email and password")


async def signed_in_user(
    rt: Runtime = Depends(runtime),
    credentials: HTTPBasicCredentials | None = Depends(_basic),
) -> dict[str, Any]:
    if credentials is None:
        raise Unauthorized(
            "sign in with your email and password (HTTP Basic); an API key cannot speak "
            "for a person",
            code="missing_credentials",
        )
    user = await run_in_threadpool(
        rt.accounts.signed_in_user, credentials.username, credentials.password
    )
    if user is None:
        raise Unauthorized("the email or password is wrong", code="invalid_credentials")
    return user


@router.get("/account/users/me/marketing", summary="My choice about the operator's marketing")
def get_my_marketing(
    rt: Runtime = Depends(runtime), user: dict[str, Any] = Depends(signed_in_user)
) -> JsonResponse:
    return JsonResponse(rt.user_marketing.state(user["id"], user["account_id"]))


@router.put(
    "/account/users/me/marketing",
    summary="Opt in to the operator's marketing, or withdraw (one call, at any time)",
)
def put_my_marketing(
    payload: MarketingChoice,
    request: Request,
    rt: Runtime = Depends(runtime),
    user: dict[str, Any] = Depends(signed_in_user),
) -> JsonResponse:
    state = rt.user_marketing.set(
        user["id"],
        user["account_id"],
        payload.opt_in,
        source="api",
        notice=payload.notice,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent", "")[:500] or None,
    )
    return JsonResponse(state)


@router.get(
    "/admin/marketing/audience",
    summary="Users the operator may send its own marketing to now (opted in, not withdrawn)",
)
def marketing_audience(
    rt: Runtime = Depends(runtime), caller: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse({"data": rt.user_marketing.audience()})
