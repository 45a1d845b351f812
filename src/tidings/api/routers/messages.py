"""/v1/messages: send, batch, read, list, cancel."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from tidings.accounts.service import Principal
from tidings.api.deps import reader, runtime, sender
from tidings.api.problems import problem, validation_problem
from tidings.api.responses import JsonResponse
from tidings.api.schemas import BatchShared, SendMessage
from tidings.api.send_items import plain_request
from tidings.core.config import Settings
from tidings.core.errors import InvalidInput
from tidings.domain.status import STATUSES
from tidings.pipeline.accept import ItemError, MessageRequest
from tidings.pipeline.resources import redact_body
from tidings.runtime import Runtime

router = APIRouter(prefix="/v1/messages", tags=["messages"])
_items = TypeAdapter(list[SendMessage])


def _batch_body_schema() -> dict[str, Any]:
    """The batch body, documented by hand since the endpoint parses it itself. The shared-body
    form is inlined: no route takes BatchShared, so it is not among the components."""
    shared = BatchShared.model_json_schema(ref_template="#/components/schemas/{model}")
    shared["properties"]["to"]["maxItems"] = Settings.max_batch
    listed = {
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "minItems": 1,
                "maxItems": Settings.max_batch,
                "items": {"$ref": "#/components/schemas/SendMessage"},
            }
        },
        "required": ["messages"],
        "additionalProperties": False,
    }
    return {"oneOf": [listed, shared]}


# Bodies this router parses itself, for the OpenAPI components: no declared parameter
# brings them in.
SCHEMAS: dict[str, Any] = {
    "SendMessage": SendMessage.model_json_schema(ref_template="#/components/schemas/{model}")
}


def to_request(item: SendMessage | BatchShared, to: str | None = None) -> MessageRequest:
    recipient = to if to is not None else item.to
    assert isinstance(recipient, str)
    return MessageRequest(
        to=recipient,
        sender=item.from_,
        body=item.body,
        channel=item.channel,
        send_at=item.send_at,
        validity_seconds=item.validity_seconds,
        status_callback=item.status_callback,
        reference=item.reference,
        purpose=item.purpose,
    )


IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")
_IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "The same key with the same body returns the first result; with another "
    "body, 409. Printable ASCII, at most 255 characters.",
    "schema": {"type": "string", "maxLength": 255, "pattern": r"^[\x20-\x7e]+$"},
}


def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header, checked: control characters cannot be stored (PostgreSQL
    refuses NUL). Read here rather than as a declared parameter: it is the hottest route."""
    value = request.headers.get("idempotency-key")
    if value is None or IDEMPOTENCY_KEY.match(value):
        return value
    raise RequestValidationError(
        [
            {
                "loc": ("header", "idempotency-key"),
                "msg": "must be 1 to 255 printable ASCII characters",
                "type": "string_pattern_mismatch",
            }
        ]
    )


@router.post(
    "",
    status_code=202,
    summary="Send a message",
    responses={
        200: {
            "description": "A repeat of a request with the same Idempotency-Key: the message "
            "it created (Idempotent-Replayed: true)",
            "content": {"application/json": {}},
        }
    },
    openapi_extra={
        "parameters": [_IDEMPOTENCY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SendMessage"}}
            },
        },
        "security": [{"HTTPBearer": []}],
    },
)
async def send_message(request: Request) -> JsonResponse:
    # The hottest route reads its own request (as documented above) rather than declaring
    # parameters: FastAPI's per-request solving of them cost more than the accept itself.
    caller = await sender(request)
    key = idempotency_key(request)
    payload = SendMessage.model_validate_json(await request.body())
    started = time.perf_counter()
    rt: Runtime = request.app.state.runtime
    message = to_request(payload)
    if key is None:
        resource, replayed = await rt.accept.accept_async(caller.account_id, message), False
    else:
        resource, replayed = await run_in_threadpool(
            rt.accept.accept, caller.account_id, message, key
        )
    rt.metrics.child(rt.metrics.accept_latency, "single").observe(time.perf_counter() - started)
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JsonResponse(resource, status_code=200 if replayed else 202, headers=headers)


@router.post(
    "/batch",
    status_code=202,
    summary="Send up to 10,000 messages at once",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _batch_body_schema()}},
        },
        "security": [{"HTTPBearer": []}],
    },
)
async def send_batch(request: Request) -> Response:
    caller = await sender(request)
    rt: Runtime = request.app.state.runtime
    started = time.perf_counter()
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return validation_problem([{"type": "json_invalid"}])
    if not isinstance(data, dict):
        raise InvalidInput(
            "the body must be a JSON object with 'messages', or with 'to' as a list",
            code="validation_error",
            status=422,
            extra={"field": "body"},
        )
    positions, requests, errors = _parse_batch(data, rt.accept.max_batch)
    accepted: list[dict[str, Any]] = []
    if requests:
        accepted, item_errors = await run_in_threadpool(
            rt.accept.accept_batch, caller.account_id, requests
        )
        # accept_batch numbers the requests it was given; report the caller's indexes
        for item in accepted:
            item["index"] = positions[item["index"]]
        errors += [ItemError(positions[e.index], e.code, e.field, e.detail) for e in item_errors]
    errors.sort(key=lambda e: e.index)
    rt.metrics.child(rt.metrics.accept_latency, "batch").observe(time.perf_counter() - started)
    result = {
        "accepted": len(accepted),
        "rejected": len(errors),
        "messages": accepted,
        "errors": [e.as_dict() for e in errors],
    }
    if not accepted:  # an error like any other, with the batch answer's fields
        return problem(
            422,
            "batch_rejected",
            "No message accepted",
            f"none of the {len(errors)} messages is valid; 'errors' says why for each by index",
            result,
        )
    return JsonResponse(result, status_code=202)


# Endpoints the API's front middleware calls itself (tidings.api.middleware).
DIRECT = {("POST", router.prefix): send_message, ("POST", f"{router.prefix}/batch"): send_batch}


def _parse_batch(
    data: dict[str, Any], max_batch: int
) -> tuple[list[int], list[MessageRequest], list[ItemError]]:
    """Valid items (with their positions in the request) and the invalid ones by index."""
    if "messages" not in data:
        if isinstance(data.get("to"), list):
            _check_size(len(data["to"]), max_batch)
        shared = BatchShared.model_validate(data)
        return (list(range(len(shared.to))), [to_request(shared, to) for to in shared.to], [])
    extra = set(data) - {"messages"}
    if extra:
        raise InvalidInput(
            f"with 'messages', no other top-level field is allowed (got "
            f"{', '.join(repr(f) for f in sorted(extra))})",
            code="validation_error",
            status=422,
            extra={"field": sorted(extra)[0]},
        )
    raw = data["messages"]
    if not isinstance(raw, list):
        raise InvalidInput(
            "'messages' must be a list",
            code="validation_error",
            status=422,
            extra={"field": "messages"},
        )
    _check_size(len(raw), max_batch)
    # Plainly valid items skip the model; if any is not, the model reads them all.
    plain = [request for request in map(plain_request, raw) if request is not None]
    if len(plain) == len(raw):
        return list(range(len(plain))), plain, []
    try:
        items = _items.validate_python(raw)
        return list(range(len(items))), [to_request(m) for m in items], []
    except ValidationError as exc:
        first_error: dict[int, Any] = {}
        for error in exc.errors():
            loc = error["loc"]
            if loc and isinstance(loc[0], int):
                first_error.setdefault(loc[0], error)
    positions: list[int] = []
    requests: list[MessageRequest] = []
    errors: list[ItemError] = []
    for index, item in enumerate(raw):
        if index not in first_error:
            positions.append(index)
            requests.append(to_request(SendMessage.model_validate(item)))
            continue
        error = first_error[index]
        field = ".".join(str(p) for p in error["loc"][1:]) or "item"
        message = (
            "is not a known field; remove it"
            if error["type"] == "extra_forbidden"
            else error["msg"]
        )
        errors.append(ItemError(index, "validation_error", field, f"'{field}' {message}"))
    return positions, requests, errors


def _check_size(count: int, max_batch: int) -> None:
    if count > max_batch:
        raise InvalidInput(
            f"a batch holds at most {max_batch} messages; this one has {count}. Split it.",
            code="batch_too_large",
            extra={"field": "messages"},
        )
    if count == 0:
        raise InvalidInput("the batch is empty", code="empty_batch", extra={"field": "messages"})


@router.get("/{message_id}", summary="Read a message")
def get_message(
    message_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(reader)
) -> JsonResponse:
    return JsonResponse(rt.queries.get(caller.account_id, message_id))


@router.get("", summary="List messages, newest first")
def list_messages(
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(reader),
    status: str | None = Query(default=None, max_length=16),
    to: str | None = Query(default=None, max_length=64),
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
    redact: bool = Query(
        default=False,
        description="Export form: phone numbers, emails, IBANs and card numbers inside each "
        "body replaced by [phone], [email], [iban], [card]",
    ),
) -> JsonResponse:
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            f"'status' must be one of {', '.join(STATUSES)}",
            code="invalid_status",
            extra={"field": "status"},
        )
    page = rt.queries.list(
        caller.account_id,
        status=status,
        to=to,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )
    if redact:
        for item in page["data"]:
            item["body"] = redact_body(item["body"])
    return JsonResponse(page)


@router.delete("/{message_id}", summary="Cancel a scheduled or queued message")
def cancel_message(
    message_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(sender)
) -> JsonResponse:
    return JsonResponse(rt.queries.cancel(caller.account_id, message_id))
