"""/v1/admin/privacy/authority-requests: the operator's register of requests of courts and
state authorities for data, and what was disclosed."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from pydantic import Field, ValidationInfo, field_validator

from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import Strict
from tidings.runtime import Runtime

router = APIRouter(
    prefix="/v1/admin/privacy/authority-requests",
    tags=["privacy (operator)"],
    dependencies=[Depends(operator)],
)
_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F)) - {"\n", "\r", "\t"}


class _Texts(Strict):
    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object, info: ValidationInfo) -> object:
        """What was asked and disclosed may run over lines; no other control character."""
        if isinstance(value, str):
            if not _CONTROL.isdisjoint(value):
                raise ValueError("must not contain control characters other than line breaks")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode text (a lone surrogate is not)") from None
        return value


class NewAuthorityRequest(_Texts):
    authority: str = Field(max_length=300, examples=["Sofia District Court"])
    reference: str | None = Field(default=None, max_length=200, examples=["civil case 1234/2026"])
    legal_basis: str = Field(max_length=2000, examples=["Art. 186 Civil Procedure Code"])
    requested: str = Field(max_length=10_000, description="What the authority asked for.")
    account_id: str | None = Field(default=None, max_length=64, examples=["acc_..."])
    subject: str | None = Field(default=None, max_length=64, examples=["+359888123456"])
    received: date | None = Field(default=None, description="The day it arrived (default today).")


class Answer(_Texts):
    disclosed: str = Field(max_length=10_000, description="What was disclosed, or why nothing.")
    answered: date | None = Field(default=None, description="The day answered (default today).")


@router.post("", status_code=201, summary="Record a request of a court or an authority")
def add_request(payload: NewAuthorityRequest, rt: Runtime = Depends(runtime)) -> JsonResponse:
    created = rt.authority_requests.add(**payload.model_dump())
    return JsonResponse(created, status_code=201)


@router.get("", summary="The register of requests, newest first")
def list_requests(
    account_id: str | None = Query(default=None, max_length=64),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
    rt: Runtime = Depends(runtime),
) -> JsonResponse:
    page = rt.authority_requests.entries(account_id=account_id, cursor=cursor, limit=limit)
    return JsonResponse(page)


@router.get("/{request_id}", summary="One request")
def get_request(request_id: str, rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse(rt.authority_requests.get(request_id))


@router.post("/{request_id}/answer", summary="Record what was disclosed (once)")
def answer_request(
    request_id: str, payload: Answer, rt: Runtime = Depends(runtime)
) -> JsonResponse:
    answered = rt.authority_requests.answer(
        request_id, disclosed=payload.disclosed, answered=payload.answered
    )
    return JsonResponse(answered)
