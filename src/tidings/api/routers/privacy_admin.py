"""/v1/admin/privacy: the operator's registers, the data map and the record of processing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import Field

from tidings.api.deps import operator, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import Strict
from tidings.privacy.datamap import build_data_map, describe
from tidings.privacy.effective import with_registers
from tidings.privacy.ropa import build_ropa
from tidings.privacy.ropa_formats import known_format, render
from tidings.privacy.taxonomy import load_taxonomy
from tidings.runtime import Runtime
from tidings.store.tables import metadata

router = APIRouter(
    prefix="/v1/admin/privacy", tags=["privacy (operator)"], dependencies=[Depends(operator)]
)


class NewSubProcessor(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Amazon Web Services"])
    service: str = Field(min_length=1, max_length=200, examples=["hosting"])
    region: str = Field(min_length=1, max_length=16, examples=["eu"])
    safeguard: str | None = Field(default=None, max_length=32, examples=["scc"])
    applies_to: str = Field(default="all", max_length=16, examples=["all"])


class NewRecipient(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Telecom operators"])
    purpose: str | None = Field(default=None, max_length=500)
    region: str | None = Field(default=None, max_length=16)
    safeguard: str | None = Field(default=None, max_length=32)


class NewContact(Strict):
    kind: str = Field(max_length=32, examples=["dpo"])
    name: str = Field(min_length=1, max_length=200, examples=["Jane Doe"])
    email: str | None = Field(default=None, max_length=320, examples=["dpo@example.com"])
    phone: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=500)


class AuthorityIn(Strict):
    name: str = Field(min_length=1, max_length=300)
    country: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, max_length=500)
    note: str | None = Field(default=None, max_length=1000)


@router.get("/settings", summary="The deployment's region and policy in force")
def privacy_settings(rt: Runtime = Depends(runtime)) -> JsonResponse:
    region = rt.registers.regions.regions[rt.registers.region]
    return JsonResponse(
        {
            "region": region.code,
            "region_name": region.name,
            "law": region.law,
            "policy": rt.policy.name,
            "policy_version": rt.policy.version,
        }
    )


@router.get("/subprocessors", summary="List the sub-processors")
def list_subprocessors(rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse({"data": rt.registers.entries("subprocessors")})


@router.post("/subprocessors", status_code=201, summary="Register a sub-processor")
def add_subprocessor(payload: NewSubProcessor, rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse(rt.registers.add_subprocessor(payload.model_dump()), status_code=201)


@router.delete("/subprocessors/{entry_id}", status_code=204, summary="Remove a sub-processor")
def remove_subprocessor(entry_id: str, rt: Runtime = Depends(runtime)) -> Response:
    rt.registers.remove("subprocessors", entry_id)
    return Response(status_code=204)


@router.get("/recipients", summary="List the recipient categories")
def list_recipients(rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse({"data": rt.registers.entries("recipients")})


@router.post("/recipients", status_code=201, summary="Register a recipient category")
def add_recipient(payload: NewRecipient, rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse(rt.registers.add_recipient(payload.model_dump()), status_code=201)


@router.delete("/recipients/{entry_id}", status_code=204, summary="Remove a recipient category")
def remove_recipient(entry_id: str, rt: Runtime = Depends(runtime)) -> Response:
    rt.registers.remove("recipients", entry_id)
    return Response(status_code=204)


@router.get("/contacts", summary="List the DPO and privacy contacts")
def list_contacts(rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse({"data": rt.registers.entries("contacts")})


@router.post("/contacts", status_code=201, summary="Register the DPO or a privacy contact")
def add_contact(payload: NewContact, rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse(rt.registers.add_contact(payload.model_dump()), status_code=201)


@router.delete("/contacts/{entry_id}", status_code=204, summary="Remove a contact")
def remove_contact(entry_id: str, rt: Runtime = Depends(runtime)) -> Response:
    rt.registers.remove("contacts", entry_id)
    return Response(status_code=204)


@router.get("/authority", summary="The supervisory authority for complaints")
def get_authority(rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse(rt.registers.authority())


@router.put("/authority", summary="Set the supervisory authority")
def set_authority(payload: AuthorityIn, rt: Runtime = Depends(runtime)) -> JsonResponse:
    return JsonResponse(rt.registers.set_authority(payload.model_dump()))


@router.delete("/authority", status_code=204, summary="Clear the supervisory authority")
def clear_authority(rt: Runtime = Depends(runtime)) -> Response:
    rt.registers.clear_authority()
    return Response(status_code=204)


def record_of_processing(rt: Runtime) -> dict[str, Any]:
    """The Art. 30 record of this deployment, now."""
    return build_ropa(
        rt.policy,
        rt.registers.snapshot(),
        metadata,
        rt.accounts.list_accounts(),
        rt.clock.now(),
    )


@router.get(
    "/ropa",
    summary="The record of processing activities (GDPR Art. 30(1) and 30(2))",
    responses={
        200: {
            "description": "The record, as JSON, CSV or Markdown",
            "content": {
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        }
    },
)
def ropa(
    fmt: str = Query("json", alias="format", max_length=16, description="json, csv or md"),
    rt: Runtime = Depends(runtime),
) -> Response:
    fmt = known_format(fmt)
    record = record_of_processing(rt)
    if fmt == "json":
        return JsonResponse(record)
    text, media_type = render(record, fmt)
    return Response(text, media_type=media_type)


@router.get("/data-map", summary="The data map: every table, its columns and their classes")
def data_map(rt: Runtime = Depends(runtime)) -> JsonResponse:
    effective = with_registers(rt.policy, rt.registers.snapshot())
    return JsonResponse(describe(build_data_map(metadata), effective, load_taxonomy()))
