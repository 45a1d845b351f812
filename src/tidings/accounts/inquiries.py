"""Inquiries from prospects through the public form (pre-contractual data, the operator's
own). Every field is encrypted under the operator's data key (`OPERATOR_KEYS`, created on
first use); the form is rate-limited per client IP, counted in the table (every API process
and node sees the same count)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tidings.accounts.operator_keys import OPERATOR_KEYS, ensure_operator_key
from tidings.core.clock import Clock, iso
from tidings.core.crypto import Crypto
from tidings.core.errors import InvalidInput, NotFound, TidingsError
from tidings.core.ids import is_valid_id, new_id
from tidings.pipeline.queries import decode_cursor, encode_cursor
from tidings.store import inquiries as inquiry_store
from tidings.store.database import Database

MAX_PAGE = 500
FIELDS = ("name", "email", "phone", "company", "message")


class RateLimited(TidingsError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class InquiryService:
    def __init__(
        self,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        *,
        per_ip: int = 5,
        window: timedelta = timedelta(minutes=10),
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._per_ip = per_ip
        self._window = window

    def submit(self, fields: dict[str, str | None], evidence: dict[str, Any]) -> dict[str, Any]:
        email = (fields.get("email") or "").strip()
        if "@" not in email:
            raise InvalidInput(
                "'email' must be an email address", code="invalid_email", extra={"field": "email"}
            )
        ensure_operator_key(self._db, self._crypto, self._clock)
        now = self._clock.now()
        inquiry_id = new_id("inq", now)
        source = self._crypto.blind_index(OPERATOR_KEYS, str(evidence.get("ip") or "unknown"))

        def sealed(name: str, value: str | None) -> bytes | None:
            if value is None or not value.strip():
                return None
            return self._crypto.encrypt(OPERATOR_KEYS, f"inquiries.{name}", value.strip())

        row = {
            "id": inquiry_id,
            **{f"{f}_enc": sealed(f, fields.get(f)) for f in FIELDS},
            "evidence_enc": sealed("evidence", json.dumps(evidence, sort_keys=True)),
            "source_index": source,
            "created_at": now,
            "updated_at": now,
        }
        with self._db.write() as conn:
            if inquiry_store.count_from_source(conn, source, now - self._window) >= self._per_ip:
                minutes = int(self._window.total_seconds() // 60)
                raise RateLimited(
                    f"at most {self._per_ip} inquiries per {minutes} minutes from one "
                    "address; please try again later"
                )
            inquiry_store.insert_inquiry(conn, row)
        return {"id": inquiry_id, "received_at": iso(now)}

    def _view(self, row: Any) -> dict[str, Any]:
        def opened(name: str, blob: bytes | None) -> str | None:
            return self._crypto.decrypt_or_none(OPERATOR_KEYS, f"inquiries.{name}", blob)

        evidence = opened("evidence", row.evidence_enc)
        return {
            "id": row.id,
            **{f: opened(f, getattr(row, f"{f}_enc")) for f in FIELDS},
            "evidence": json.loads(evidence) if evidence else None,
            "created_at": iso(row.created_at),
        }

    def entries(self, *, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                f"'limit' must be from 1 to {MAX_PAGE}",
                code="invalid_limit",
                extra={"field": "limit"},
            )
        before = decode_cursor(cursor, "inq") if cursor else None
        with self._db.read() as conn:
            rows = inquiry_store.list_inquiries(conn, before, limit + 1)
        page = rows[:limit]
        return {
            "data": [self._view(r) for r in page],
            "next_cursor": encode_cursor(page[-1].id) if len(rows) > limit else None,
        }

    def get(self, inquiry_id: str) -> dict[str, Any]:
        row = None
        if is_valid_id(inquiry_id, "inq"):
            with self._db.read() as conn:
                row = inquiry_store.get_inquiry(conn, inquiry_id)
        if row is None:
            raise NotFound(f"no inquiry {inquiry_id[:64]!r}", code="inquiry_not_found")
        return self._view(row)

    def delete(self, inquiry_id: str) -> None:
        deleted = False
        if is_valid_id(inquiry_id, "inq"):
            with self._db.write() as conn:
                deleted = inquiry_store.delete_inquiry(conn, inquiry_id)
        if not deleted:
            raise NotFound(f"no inquiry {inquiry_id[:64]!r}", code="inquiry_not_found")
