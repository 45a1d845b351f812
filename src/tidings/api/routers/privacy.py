"""Erasure of data subjects (operator: /v1/admin/privacy/*)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import Field, model_validator
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import Strict
from tidings.runtime import Runtime

router = APIRouter(tags=["privacy"])


class ErasureRequest(Strict):
    account_id: str = Field(min_length=1, max_length=64, examples=["acc_..."])
    subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The data subject's phone number; omit with whole_account",
        examples=["+31612345678"],
    )
    whole_account: bool = Field(
        default=False,
        description="Close the account and destroy every key of it (its own and its subjects')",
    )
    dry_run: bool = Field(default=False, description="Count what would be erased; change nothing")

    @model_validator(mode="after")
    def _one_target(self) -> ErasureRequest:
        if (self.subject is None) == (not self.whole_account):
            raise ValueError("give 'subject' or 'whole_account': true (one of them)")
        return self


@router.post(
    "/v1/admin/privacy/erasures",
    status_code=201,
    summary="Erase a data subject (or a whole account) by destroying its keys",
    responses={
        200: {"description": "A dry run: what would be erased", "content": {"application/json": {}}}
    },
)
async def create_erasure(
    payload: ErasureRequest,
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(operator),
) -> JsonResponse:
    who = f"api:{caller.key_id}"
    if payload.subject is not None:
        subject = payload.subject
        result = await run_in_threadpool(
            lambda: rt.erasure.erase_subject(
                payload.account_id, subject, requested_by=who, dry_run=payload.dry_run
            )
        )
    else:
        result = await run_in_threadpool(
            lambda: rt.erasure.erase_account(
                payload.account_id, requested_by=who, dry_run=payload.dry_run
            )
        )
    return JsonResponse(result.as_dict(), status_code=200 if payload.dry_run else 201)


@router.get("/v1/admin/privacy/erasures", summary="The erasure log, newest first")
async def list_erasures(
    account_id: str | None = Query(None, max_length=64),
    limit: int = Query(100, description="1-500"),
    rt: Runtime = Depends(runtime),
    _: Principal = Depends(operator),
) -> JsonResponse:
    entries = await run_in_threadpool(rt.erasure.list, account_id, limit)
    return JsonResponse({"data": entries})
