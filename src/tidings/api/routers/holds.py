"""/v1/admin/holds: legal holds, for the operator of the deployment."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends
from pydantic import Field

from tidings.accounts.service import Principal
from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import Strict
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1/admin/holds", tags=["admin"])


class NewHold(Strict):
    account_id: str = Field(min_length=1, max_length=64, examples=["acc_..."])
    subject: str | None = Field(
        default=None, min_length=1, max_length=64, examples=["+31612345678"]
    )
    from_: date | None = Field(default=None, alias="from", description="First day held (UTC).")
    to: date | None = Field(default=None, description="Last day held, inclusive (UTC).")
    reason: str = Field(min_length=1, max_length=2000)
    authority: str = Field(min_length=1, max_length=2000)


@router.post("", status_code=201, summary="Place a legal hold")
def create_hold(
    payload: NewHold, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    hold = rt.holds.create(
        payload.account_id,
        reason=payload.reason,
        authority=payload.authority,
        subject=payload.subject,
        held_from=payload.from_,
        held_to=payload.to,
    )
    return JsonResponse(hold, status_code=201)


@router.get("", summary="List legal holds")
def list_holds(
    account_id: str | None = None,
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(operator),
) -> JsonResponse:
    return JsonResponse({"data": rt.holds.list_holds(account_id)})


@router.get("/{hold_id}", summary="One legal hold")
def get_hold(
    hold_id: str, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse(rt.holds.get(hold_id))


@router.post("/{hold_id}/release", summary="Release a legal hold")
def release_hold(
    hold_id: str, rt: Runtime = Depends(runtime), _: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse(rt.holds.release(hold_id))
