"""Inquiries: a public form for prospects (no key; rate-limited per IP), read and deleted
by the operator."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from tidings.accounts.inquiries import InquiryService
from tidings.accounts.service import Principal
from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import Strict
from tidings.runtime import Runtime

router = APIRouter(tags=["inquiries"])


class NewInquiry(Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254, examples=["jane@example.com"])
    phone: str | None = Field(default=None, max_length=32)
    company: str | None = Field(default=None, max_length=200)
    message: str = Field(min_length=1, max_length=5000)


def _service(request: Request) -> InquiryService:
    value: InquiryService = request.app.state.inquiries
    return value


@router.post("/public/inquiries", status_code=201, summary="Send an inquiry (no API key)")
def submit_inquiry(
    payload: NewInquiry, request: Request, rt: Runtime = Depends(runtime)
) -> JsonResponse:
    evidence = {
        "ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent", "")[:500],
        "notice": {"name": rt.policy.name, "version": rt.policy.version},
    }
    result = _service(request).submit(payload.model_dump(), evidence)
    return JsonResponse(result, status_code=201)


@router.get("/v1/admin/inquiries", summary="Inquiries, newest first", tags=["admin"])
def list_inquiries(
    request: Request,
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
    _: Principal = Depends(operator),
) -> JsonResponse:
    return JsonResponse(_service(request).entries(cursor=cursor, limit=limit))


@router.get("/v1/admin/inquiries/{inquiry_id}", summary="One inquiry", tags=["admin"])
def get_inquiry(
    inquiry_id: str, request: Request, _: Principal = Depends(operator)
) -> JsonResponse:
    return JsonResponse(_service(request).get(inquiry_id))


@router.delete(
    "/v1/admin/inquiries/{inquiry_id}", status_code=204, summary="Delete an inquiry", tags=["admin"]
)
def delete_inquiry(inquiry_id: str, request: Request, _: Principal = Depends(operator)) -> Response:
    _service(request).delete(inquiry_id)
    return Response(status_code=204)
