"""/v1/contacts, /v1/lists and /v1/contact-fields: an account's phonebook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from tidings.accounts.service import Principal
from tidings.api.deps import admin, reader, runtime
from tidings.api.responses import JsonResponse
from tidings.api.schemas import (
    ContactChanges,
    ListChanges,
    Members,
    NewContact,
    NewContactField,
    NewList,
)
from tidings.contacts.exporter import MEDIA_TYPES, export
from tidings.core.errors import InvalidInput
from tidings.runtime import Runtime
from tidings.store.contacts import ContactFilter

router = APIRouter(tags=["contacts"])
IMPORTS_PATH = "/v1/contacts/imports"
_RAW_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/plain": None,
    "application/octet-stream": None,
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
}
_CHUNK = 1024 * 1024
_IMPORT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "text/csv": {"schema": {"type": "string"}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}


def _field_filter(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    key, sep, match = value.partition(":")
    if not sep or not key:
        raise InvalidInput(
            "'field' must be KEY:VALUE, like tier:gold",
            code="invalid_field_filter",
            extra={"field": "field"},
        )
    return key, match


def contact_filter(
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(reader),
    tag: str | None = Query(default=None, max_length=64, description="Contacts with this tag"),
    list_id: str | None = Query(
        default=None, alias="list", max_length=64, description="Members of this list (lst_...)"
    ),
    region: str | None = Query(
        default=None, max_length=8, description="Region of the number, like NL"
    ),
    field: str | None = Query(
        default=None, max_length=200, description="A custom field value, as KEY:VALUE"
    ),
    number: str | None = Query(default=None, max_length=64, description="This phone number"),
    email: str | None = Query(default=None, max_length=254, description="This email address"),
) -> ContactFilter:
    """The filters shared by listing and exporting contacts. (A package that adds a filter,
    such as the consent state, appends its condition to `ContactFilter.extra`.)"""
    return rt.contacts.filter_for(
        caller.account_id,
        tag=tag,
        list_id=list_id,
        region=region,
        field=_field_filter(field),
        number=number,
        email=email,
    )


def _values(model: NewContact | ContactChanges) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


# --- imports (declared before /v1/contacts/{contact_id}, which would take their paths) -------


@router.post(
    IMPORTS_PATH,
    status_code=202,
    summary="Import contacts from a CSV or JSON-lines file",
    openapi_extra={"requestBody": _IMPORT_BODY},
)
async def create_import(
    request: Request,
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(admin),
    list_name: str | None = Query(
        default=None, alias="list", max_length=100, description="Add every contact to this list"
    ),
    mapping: list[str] = Query(
        default=[], alias="map", description="column=field; column= skips a column"
    ),
    fmt: str | None = Query(default=None, alias="format", max_length=8, pattern="^(csv|jsonl)$"),
) -> JsonResponse:
    """The upload is spooled to disk and its header checked; the rows are imported in the
    background. Poll the returned import for progress, counts and refused rows."""
    import_id, spool = await run_in_threadpool(rt.imports.new_upload)
    try:
        filename, fmt = await _spool(request, spool, fmt)
        job = await run_in_threadpool(
            rt.imports.create,
            caller.account_id,
            import_id,
            spool,
            filename=filename,
            fmt=fmt,
            list_name=list_name,
            mapping=mapping,
        )
    except BaseException:
        spool.unlink(missing_ok=True)
        raise
    return JsonResponse(job, status_code=202)


async def _spool(request: Request, spool: Path, fmt: str | None) -> tuple[str | None, str | None]:
    """Write the uploaded file to `spool` a chunk at a time; its name and format if known."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=10)
        except MultiPartException as exc:
            raise InvalidInput(
                f"the multipart body cannot be read: {exc.message}",
                code="invalid_upload",
                extra={"field": "file"},
            ) from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput(
                    "'file' is required: send the file in the form field named file",
                    code="missing_file",
                    extra={"field": "file"},
                )
            with spool.open("wb") as out:
                while chunk := await upload.read(_CHUNK):
                    out.write(chunk)
            return upload.filename, fmt
        finally:
            await form.close()
    if content_type not in _RAW_TYPES:
        raise InvalidInput(
            "send the file as multipart/form-data (field 'file'), or as the body with "
            "Content-Type text/csv or application/x-ndjson",
            code="unsupported_media_type",
            status=415,
            extra={"field": "file"},
        )
    with spool.open("wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
    return None, fmt or _RAW_TYPES[content_type]


@router.get(IMPORTS_PATH, summary="List the account's imports, newest first")
def list_imports(
    rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse({"data": rt.imports.list(caller.account_id)})


@router.get(IMPORTS_PATH + "/{import_id}", summary="An import: progress, counts, refused rows")
def get_import(
    import_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse(rt.imports.get(caller.account_id, import_id))


@router.get(
    IMPORTS_PATH + "/{import_id}/errors.csv",
    summary="Every refused row of an import: line, column, reason",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def import_errors(
    import_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> StreamingResponse:
    lines = rt.imports.errors_csv(caller.account_id, import_id)
    first = next(lines)  # raises import_not_found before the answer starts
    return StreamingResponse(
        iterate_in_threadpool(_chain(first, lines)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{import_id}-errors.csv"'},
    )


def _chain(first: str, rest: Any) -> Any:
    yield first
    yield from rest


@router.get(
    "/v1/contacts/export",
    summary="Export contacts (all, a list's, or any filter's) as CSV, JSON or JSON lines",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "application/x-ndjson": {"schema": {"type": "string"}},
            }
        }
    },
)
def export_contacts(
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(reader),
    where: ContactFilter = Depends(contact_filter),
    fmt: str = Query(default="csv", alias="format", pattern="^(csv|json|jsonl)$"),
) -> StreamingResponse:
    """Streamed, oldest first. In CSV, text cells that a spreadsheet would run as a formula
    (starting with = + - @) are prefixed with ' ; the E.164 number is written as it is."""
    chunks = export(rt.contacts, rt.lists, rt.contact_fields, caller.account_id, where, fmt)
    return StreamingResponse(
        iterate_in_threadpool(chunks),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="contacts.{fmt}"'},
    )


# --- contacts ---------------------------------------------------------------------------------


@router.post("/v1/contacts", status_code=201, summary="Create a contact")
def create_contact(
    payload: NewContact, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    return JsonResponse(rt.contacts.create(caller.account_id, _values(payload)), status_code=201)


@router.get("/v1/contacts", summary="List contacts, newest first")
def list_contacts(
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(reader),
    where: ContactFilter = Depends(contact_filter),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
) -> JsonResponse:
    return JsonResponse(rt.contacts.list(caller.account_id, where, cursor=cursor, limit=limit))


@router.get("/v1/contacts/{contact_id}", summary="Read a contact")
def get_contact(
    contact_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse(rt.contacts.get(caller.account_id, contact_id))


@router.patch("/v1/contacts/{contact_id}", summary="Change a contact")
def update_contact(
    contact_id: str,
    payload: ContactChanges,
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(admin),
) -> JsonResponse:
    return JsonResponse(rt.contacts.update(caller.account_id, contact_id, _values(payload)))


@router.delete("/v1/contacts/{contact_id}", status_code=204, summary="Delete a contact")
def delete_contact(
    contact_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> Response:
    rt.contacts.delete(caller.account_id, contact_id)
    return Response(status_code=204)


# --- lists ------------------------------------------------------------------------------------


@router.post("/v1/lists", status_code=201, summary="Create a list")
def create_list(
    payload: NewList, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    return JsonResponse(rt.lists.create(caller.account_id, payload.name), status_code=201)


@router.get("/v1/lists", summary="List the account's lists")
def list_lists(rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)) -> JsonResponse:
    return JsonResponse({"data": rt.lists.list(caller.account_id)})


@router.get("/v1/lists/{list_id}", summary="Read a list")
def get_list(
    list_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse(rt.lists.get(caller.account_id, list_id))


@router.patch("/v1/lists/{list_id}", summary="Rename a list")
def rename_list(
    list_id: str,
    payload: ListChanges,
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(admin),
) -> JsonResponse:
    return JsonResponse(rt.lists.rename(caller.account_id, list_id, payload.name))


@router.delete("/v1/lists/{list_id}", status_code=204, summary="Delete a list (not its contacts)")
def delete_list(
    list_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> Response:
    rt.lists.delete(caller.account_id, list_id)
    return Response(status_code=204)


@router.post("/v1/lists/{list_id}/members", summary="Add contacts to a list")
def add_members(
    list_id: str,
    payload: Members,
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(admin),
) -> JsonResponse:
    return JsonResponse(rt.lists.add(caller.account_id, list_id, payload.contact_ids))


@router.delete("/v1/lists/{list_id}/members/{contact_id}", summary="Remove a contact from a list")
def remove_member(
    list_id: str,
    contact_id: str,
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(admin),
) -> JsonResponse:
    return JsonResponse(rt.lists.remove(caller.account_id, list_id, [contact_id]))


# --- custom field schema ----------------------------------------------------------------------


@router.post("/v1/contact-fields", status_code=201, summary="Define a custom contact field")
def create_field(
    payload: NewContactField, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> JsonResponse:
    created = rt.contact_fields.create(
        caller.account_id, payload.key, payload.type, payload.label, payload.options
    )
    return JsonResponse(created, status_code=201)


@router.get("/v1/contact-fields", summary="List the custom contact fields")
def list_fields(
    rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse({"data": rt.contact_fields.list(caller.account_id)})


@router.delete(
    "/v1/contact-fields/{field_id}", status_code=204, summary="Delete a custom contact field"
)
def delete_field(
    field_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(admin)
) -> Response:
    rt.contact_fields.delete(caller.account_id, field_id)
    return Response(status_code=204)
