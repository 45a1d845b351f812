"""The message resource as the API and webhooks show it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tidings.core.clock import iso
from tidings.core.crypto import Crypto, KeyUnavailable
from tidings.domain.pii import redact


def redact_body(body: str | None) -> str | None:
    """A body fit for an export or a log: personal data inside it replaced by its kind."""
    return None if body is None else redact(body)[0]


class _Fields:
    """Decrypts a row's fields; a destroyed key reads as None and marks the data erased."""

    def __init__(self, crypto: Crypto, account_id: str) -> None:
        self._crypto = crypto
        self._account = account_id
        self.erased = False

    def read(self, column: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        try:
            return self._crypto.decrypt(self._account, column, blob)
        except KeyUnavailable:
            self.erased = True
            return None


def message_resource(
    row: Any, history: Sequence[Any], crypto: Crypto, parts: Sequence[Any] = ()
) -> dict[str, Any]:
    """The message as its account sees it. `data_erased`: the subject's key was destroyed
    (an erasure), so their number and the body read as null; `anonymised`: the numbers and
    body were removed for good and only `region` says where the subject's number was from."""
    account = row.account_id
    fields = _Fields(crypto, account)
    sender = fields.read("messages.sender", row.sender_enc)
    recipient = fields.read("messages.recipient", row.recipient_enc)
    body = fields.read("messages.body", row.body_enc)
    return {
        "id": row.id,
        "account_id": account,
        "direction": row.direction,
        "channel": row.channel,
        "from": sender,
        "to": recipient,
        "body": body,
        "data_erased": fields.erased,
        "anonymised": row.anonymised_at is not None,
        "region": row.region,
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
