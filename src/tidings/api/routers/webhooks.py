"""/v1/webhooks/failures: dead-lettered webhook deliveries and their replay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from tidings.accounts.service import Principal
from tidings.api.deps import reader, runtime, sender
from tidings.api.responses import JsonResponse
from tidings.core.clock import iso
from tidings.core.errors import InvalidInput, NotFound
from tidings.core.ids import is_valid_id
from tidings.pipeline.queries import decode_cursor, encode_cursor
from tidings.runtime import Runtime
from tidings.store import webhooks as webhook_store

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event,
        "message_id": row.message_id,
        "url": row.url,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": iso(row.created_at),
        "last_attempt_at": iso(row.next_attempt_at),
    }


@router.get("/failures", summary="Webhook deliveries that failed for 24 hours")
def failures(
    rt: Runtime = Depends(runtime),
    caller: Principal = Depends(reader),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50),
) -> JsonResponse:
    if not 1 <= limit <= 500:
        raise InvalidInput(
            "'limit' must be from 1 to 500", code="invalid_limit", extra={"field": "limit"}
        )
    before = decode_cursor(cursor, "whk") if cursor else None
    with rt.db.read() as conn:
        rows = webhook_store.list_failures(
            conn, caller.account_id, before_id=before, limit=limit + 1
        )
    page = rows[:limit]
    return JsonResponse(
        {
            "data": [_view(r) for r in page],
            "next_cursor": encode_cursor(page[-1].id) if len(rows) > limit else None,
        }
    )


@router.post(
    "/failures/{delivery_id}/replay",
    status_code=202,
    summary="Queue a dead-lettered delivery again",
)
def replay(
    delivery_id: str, rt: Runtime = Depends(runtime), caller: Principal = Depends(sender)
) -> JsonResponse:
    with rt.db.write() as conn:
        if not is_valid_id(delivery_id, "whk") or not webhook_store.replay(
            conn, caller.account_id, delivery_id, rt.clock.now()
        ):
            raise NotFound(
                f"no failed webhook delivery {delivery_id[:64]!r} in this account",
                code="delivery_not_found",
            )
        row = webhook_store.get_delivery(conn, caller.account_id, delivery_id)
    return JsonResponse(
        {"id": delivery_id, "state": row.state if row else "pending"}, status_code=202
    )
