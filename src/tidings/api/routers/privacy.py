"""Erasure of data subjects (operator: /v1/admin/privacy/*), redaction of personal data,
and message statistics from anonymous aggregates."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from pydantic import Field, ValidationInfo, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.api.deps import operator, principal, reader, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import Strict
from tidings.core.errors import InvalidInput
from tidings.domain.pii import MAX_SCAN, is_region, redact
from tidings.privacy.anonymise import GROUPS, default_period
from tidings.runtime import Runtime

router = APIRouter(tags=["privacy"])


class ErasureRequest(Strict):
    account_id: str = Field(min_length=1, max_length=64, examples=["acc_..."])
    subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The data subject: a phone number, or a user id (usr_...); omit with "
        "whole_account",
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


class RedactRequest(Strict):
    text: str = Field(max_length=MAX_SCAN, examples=["Call me on +31 6 12345678"])
    region: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="ISO 3166 region: also find national numbers written without +",
        examples=["NL"],
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object, info: ValidationInfo) -> object:
        """Free text may hold line breaks and tabs; only lone surrogates are refused."""
        if isinstance(value, str) and not _is_unicode(value):
            raise ValueError("must be valid Unicode text (a lone surrogate is not)")
        return value


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@router.post("/v1/privacy/redact", summary="Redact phone numbers, emails, IBANs and cards")
async def redact_text(payload: RedactRequest, _: Principal = Depends(principal)) -> JsonResponse:
    if payload.region is not None and not is_region(payload.region):
        raise InvalidInput(
            f"'region' {payload.region!r} is not an ISO 3166 region code like NL or GB",
            code="invalid_region",
            extra={"field": "region"},
        )
    text, findings = await run_in_threadpool(redact, payload.text, payload.region)
    return JsonResponse({"text": text, "findings": [f.as_dict() for f in findings]})


@router.get(
    "/v1/stats/messages",
    summary="Message counts per day, channel, direction, status and country (groups of 5+)",
)
async def message_statistics(
    since: date | None = Query(None, description="First UTC day (default: 29 days ago)"),
    until: date | None = Query(None, description="Day after the last (default: tomorrow)"),
    group_by: str = Query(
        "day,channel,status,country", description=f"Comma-separated: {', '.join(GROUPS)}"
    ),
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(reader),
) -> JsonResponse:
    first, end = default_period(rt.clock.now().date())
    groups = [g.strip() for g in group_by.split(",") if g.strip()]
    result = await run_in_threadpool(
        rt.anonymiser.statistics, caller.account_id, since or first, until or end, groups
    )
    return JsonResponse(result)
