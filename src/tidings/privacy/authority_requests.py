"""The register of requests of courts and state authorities for data (BG-08, ICE-09).

The operator records each request: who asked (the authority, its reference), on what legal
grounds, what it asked for, the account and the phone number concerned (either may be
absent), and, once answered, what was disclosed and when. Every text is encrypted under the
operator's own data key, so erasing or closing the account concerned never makes the record
unreadable; the number also has a keyed blind index within its account (as the messages
and legal holds use), so a hold on that subject keeps the record. The retention rule
`court_information` deletes each record when its period has run out.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from tidings.accounts.operator_keys import OPERATOR_KEYS, ensure_operator_key
from tidings.core.clock import Clock, iso, to_utc
from tidings.core.crypto import Crypto
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.domain.addresses import AddressError, normalise_number
from tidings.pipeline.queries import decode_cursor, encode_cursor
from tidings.store import accounts as account_store
from tidings.store import authority_requests as request_store
from tidings.store.database import Database

MAX_PAGE = 500
FIRST_DAY = date(1970, 1, 1)
LIMITS = {  # field -> the longest text accepted
    "authority": 300,
    "reference": 200,
    "legal_basis": 2000,
    "requested": 10_000,
    "disclosed": 10_000,
}
WHAT = {
    "authority": "the court or authority that asked",
    "legal_basis": "the legal provision the request cites",
    "requested": "what the authority asked for",
    "disclosed": "what was disclosed (or 'nothing', and why)",
}


class RequestAnswered(Conflict):
    code = "request_answered"


class AuthorityRequestService:
    def __init__(self, db: Database, crypto: Crypto, clock: Clock) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock

    # --- commands -----------------------------------------------------------------------
    def add(
        self,
        *,
        authority: str,
        legal_basis: str,
        requested: str,
        reference: str | None = None,
        account_id: str | None = None,
        subject: str | None = None,
        received: date | None = None,
    ) -> dict[str, Any]:
        """Record a request as received (`received`: the day it arrived, default today)."""
        authority = _text(authority, "authority")
        reference = _optional(reference, "reference")
        legal_basis = _text(legal_basis, "legal_basis")
        requested = _text(requested, "requested")
        now = self._clock.now()
        received_at = _day(received or now.date(), "received", now)
        number = _number(subject) if subject is not None and subject.strip() else None
        if account_id is not None and not account_id.strip():
            account_id = None
        if account_id is not None:
            self._require_account(account_id)
        ensure_operator_key(self._db, self._crypto, self._clock)
        request_id = new_id("arq", now)
        row = {
            "id": request_id,
            "account_id": account_id,
            "authority_enc": self._seal("authority", authority),
            "reference_enc": self._seal_optional("reference", reference),
            "legal_basis_enc": self._seal("legal_basis", legal_basis),
            "request_enc": self._seal("requested", requested),
            "subject_enc": self._seal_optional("subject", number),
            "subject_index": self._subject_index(account_id, number) if number else None,
            "received_at": received_at,
            "created_at": now,
            "updated_at": now,
        }
        with self._db.write() as conn:
            request_store.insert_request(conn, row)
            stored = request_store.get_request(conn, request_id)
        return self._view(stored)

    def answer(
        self, request_id: str, *, disclosed: str, answered: date | None = None
    ) -> dict[str, Any]:
        """Record what was disclosed and when (`answered`: the day, default now). A request
        is answered once: its record of disclosure is never rewritten."""
        text = _text(disclosed, "disclosed")
        row = self._row(request_id)
        now = self._clock.now()
        at = now if answered is None else _day(answered, "answered", now)
        if row.answered_at is None and at < to_utc(row.received_at):
            raise InvalidInput(
                f"'answered' {at.date()} is before the request was received "
                f"({to_utc(row.received_at).date()}); give the day it was answered",
                code="invalid_answered",
                extra={"field": "answered"},
            )
        sealed = self._seal("disclosed", text)
        with self._db.write() as conn:
            done = request_store.answer(conn, row.id, sealed, at)
            stored = request_store.get_request(conn, row.id)
        if not done:
            assert stored is not None
            raise RequestAnswered(
                f"request {row.id} was answered already, on {to_utc(stored.answered_at).date()}; "
                "an answer is recorded once",
                extra={"request_id": row.id},
            )
        return self._view(stored)

    # --- queries ------------------------------------------------------------------------
    def get(self, request_id: str) -> dict[str, Any]:
        return self._view(self._row(request_id))

    def entries(
        self, *, account_id: str | None = None, cursor: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        """The register, newest first, one page at a time (all accounts, or one)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                f"'limit' must be from 1 to {MAX_PAGE}",
                code="invalid_limit",
                extra={"field": "limit"},
            )
        before = decode_cursor(cursor, "arq") if cursor else None
        with self._db.read() as conn:
            rows = request_store.list_requests(conn, account_id, before, limit + 1)
        page = rows[:limit]
        return {
            "data": [self._view(r) for r in page],
            "next_cursor": encode_cursor(page[-1].id) if len(rows) > limit else None,
        }

    # --- helpers ------------------------------------------------------------------------
    def _row(self, request_id: str) -> Any:
        row = None
        if is_valid_id(request_id, "arq"):
            with self._db.read() as conn:
                row = request_store.get_request(conn, request_id)
        if row is None:
            raise NotFound(
                f"no authority request {request_id[:64]!r}; list them with: "
                "tidings privacy authority-requests list",
                code="authority_request_not_found",
                extra={"field": "request_id"},
            )
        return row

    def _require_account(self, account_id: str) -> None:
        found = None
        if is_valid_id(account_id, "acc"):
            with self._db.read() as conn:
                found = account_store.get_account(conn, account_id)
        if found is None:
            raise NotFound(
                f"no account {account_id[:64]!r}; list them with: tidings account list "
                "(leave the account out when the request names none)",
                code="account_not_found",
                extra={"field": "account_id"},
            )

    def _subject_index(self, account_id: str | None, number: str) -> bytes:
        """Within the account, the index the messages and holds use; without one, within
        the operator's own scope."""
        return self._crypto.blind_index(account_id or OPERATOR_KEYS, number)

    def _seal(self, name: str, value: str) -> bytes:
        return self._crypto.encrypt(OPERATOR_KEYS, f"authority_requests.{name}", value)

    def _seal_optional(self, name: str, value: str | None) -> bytes | None:
        return None if value is None else self._seal(name, value)

    def _view(self, row: Any) -> dict[str, Any]:
        def opened(name: str, blob: bytes | None) -> str | None:
            return self._crypto.decrypt_or_none(OPERATOR_KEYS, f"authority_requests.{name}", blob)

        answered = to_utc(row.answered_at) if row.answered_at is not None else None
        return {
            "id": row.id,
            "account_id": row.account_id,
            "authority": opened("authority", row.authority_enc),
            "reference": opened("reference", row.reference_enc),
            "legal_basis": opened("legal_basis", row.legal_basis_enc),
            "requested": opened("requested", row.request_enc),
            "subject": opened("subject", row.subject_enc),
            "received": to_utc(row.received_at).date().isoformat(),
            "status": "answered" if answered else "open",
            "disclosed": opened("disclosed", row.disclosure_enc),
            "answered": answered.date().isoformat() if answered else None,
            "created_at": iso(row.created_at),
        }


def _text(value: str | None, field: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(
            f"'{field}' is required; give {WHAT[field]}",
            code=f"invalid_{field}",
            extra={"field": field},
        )
    return _bounded(text, field)


def _optional(value: str | None, field: str) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return _bounded(text, field) if text else None


def _bounded(text: str, field: str) -> str:
    if len(text) > LIMITS[field]:
        raise InvalidInput(
            f"'{field}' may be at most {LIMITS[field]} characters",
            code=f"invalid_{field}",
            extra={"field": field},
        )
    return text


def _number(subject: str) -> str:
    try:
        return normalise_number(subject, "subject")
    except AddressError as exc:
        raise InvalidInput(str(exc), code="invalid_subject", extra={"field": "subject"}) from exc


def _day(day: date, field: str, now: datetime) -> datetime:
    """A day as its first moment in UTC; neither before 1970 nor after today."""
    if not FIRST_DAY <= day <= now.date():
        raise InvalidInput(
            f"'{field}' {day.isoformat()} must be a day from {FIRST_DAY} to today "
            f"({now.date().isoformat()})",
            code=f"invalid_{field}",
            extra={"field": field},
        )
    return datetime.combine(day, time(), UTC)
