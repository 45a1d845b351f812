"""The message resource as the API and webhooks show it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.core.clock import iso
from tidings.core.crypto import Crypto


def message_resource(
    row: Any, history: Sequence[Any], crypto: Crypto, parts: Sequence[Any] = ()
) -> dict[str, Any]:
    account = row.account_id
    return {
        "id": row.id,
        "account_id": account,
        "direction": row.direction,
        "channel": row.channel,
        "from": crypto.decrypt_or_none(account, "messages.sender", row.sender_enc),
        "to": crypto.decrypt_or_none(account, "messages.recipient", row.recipient_enc),
        "body": crypto.decrypt_or_none(account, "messages.body", row.body_enc),
        "encoding": row.encoding,
        "segments": row.segments,
        "status": row.status,
        "status_history": [
            {"status": e.status, "at": iso(e.at), **({"detail": e.detail} if e.detail else {})}
            for e in history
        ],
        "error_code": row.error_code,
        "error_message": row.error_message,
        "price": None if row.price is None else str(row.price),
        "created_at": iso(row.created_at),
        "send_at": iso(row.send_at),
        "expires_at": iso(row.expires_at),
        "sent_at": iso(row.sent_at),
        "delivered_at": iso(row.delivered_at),
        "reference": row.reference,
        "status_callback": row.status_callback,
        "purpose": row.purpose,
        "parts": [part_resource(part) for part in parts],
    }


def part_resource(part: Any) -> dict[str, Any]:
    """One submitted part of a multipart message, with its own operator id and receipt."""
    return {
        "part_number": part.part_number,
        "connector": part.connector,
        "connector_message_id": part.connector_message_id,
        "status": part.status,
        "error_code": part.error_code,
        "submitted_at": iso(part.submitted_at),
        "done_at": iso(part.done_at),
    }
