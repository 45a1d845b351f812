"""Legal holds: create, list, release, and ask whether a record is held.

The retention sweep and subject erasure both consult this service: a held record is
skipped by both until its hold is released. A subject is a phone number of an account,
kept only as the keyed blind index the messages use (`Crypto.blind_index(account, e164)`),
so `subject_index(account, number)` matches `messages.sender_index`/`recipient_index`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from tidings.core.clock import Clock, iso, to_utc
from tidings.core.crypto import Crypto
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.domain.addresses import AddressError, normalise_number
from tidings.domain.holds import Hold, Span, held
from tidings.store import holds as hold_store
from tidings.store.database import Database

MAX_TEXT = 2000
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)


class HoldService:
    def __init__(self, db: Database, crypto: Crypto, clock: Clock) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock

    # --- subjects ----------------------------------------------------------------------
    def subject_index(self, account_id: str, number: str) -> bytes:
        """The keyed blind index of a phone number within an account (as messages use)."""
        try:
            value = normalise_number(number, "subject")
        except AddressError as exc:
            raise InvalidInput(
                str(exc), code="invalid_subject", extra={"field": "subject"}
            ) from exc
        return self._crypto.blind_index(account_id, value)

    # --- commands ----------------------------------------------------------------------
    def create(
        self,
        account_id: str,
        *,
        reason: str,
        authority: str,
        subject: str | None = None,
        held_from: date | None = None,
        held_to: date | None = None,
    ) -> dict[str, Any]:
        """Hold the account's records (or one subject's) dated in [held_from, held_to]
        (whole days, both inclusive, UTC; an open end when omitted)."""
        reason = _text(reason, "reason")
        authority = _text(authority, "authority")
        _check_day(held_from, "from")
        _check_day(held_to, "to")
        span = Span.of_days(held_from, held_to)
        if span.empty:
            raise InvalidInput(
                "'to' is before 'from'; give a date on or after the first day held",
                code="invalid_hold_dates",
                extra={"field": "to"},
            )
        if not is_valid_id(account_id, "acc"):
            raise NotFound(f"no account {account_id[:64]!r}", code="account_not_found")
        index = self.subject_index(account_id, subject) if subject is not None else None
        now = self._clock.now()
        hold_id = new_id("hld", now)
        with self._db.write() as conn:
            if not hold_store.lock_account(conn, account_id):
                raise NotFound(f"no account {account_id!r}", code="account_not_found")
            for existing in hold_store.active_holds(conn, account_id):
                if existing.overlaps(account_id, index, span):
                    raise Conflict(
                        f"hold {existing.id} already holds "
                        f"{'this subject' if index else 'this account'} over overlapping dates; "
                        f"release it first or choose dates outside it",
                        code="hold_overlaps",
                        extra={"hold_id": existing.id},
                    )
            hold_store.insert_hold(
                conn,
                hold_id=hold_id,
                account_id=account_id,
                subject_index=index,
                held_from=span.start,
                held_until=span.end,
                reason_enc=self._crypto.encrypt(account_id, "legal_holds.reason", reason),
                authority_enc=self._crypto.encrypt(account_id, "legal_holds.authority", authority),
                created_at=now,
            )
            row = hold_store.get_row(conn, hold_id)
        assert row is not None
        return self._view(row)

    def release(self, hold_id: str) -> dict[str, Any]:
        """End a hold: from now on the sweep treats its records like any other."""
        if not is_valid_id(hold_id, "hld"):
            raise NotFound(f"no hold {hold_id[:64]!r}", code="hold_not_found")
        with self._db.write() as conn:
            row = hold_store.get_row(conn, hold_id)
            if row is None:
                raise NotFound(f"no hold {hold_id!r}", code="hold_not_found")
            if row.released_at is not None:
                raise Conflict(
                    f"hold {hold_id} was released already, at {iso(row.released_at)}",
                    code="hold_released",
                    extra={"hold_id": hold_id},
                )
            hold_store.release(conn, hold_id, self._clock.now())
            row = hold_store.get_row(conn, hold_id)
        assert row is not None
        return self._view(row)

    # --- queries -----------------------------------------------------------------------
    def get(self, hold_id: str) -> dict[str, Any]:
        if not is_valid_id(hold_id, "hld"):
            raise NotFound(f"no hold {hold_id[:64]!r}", code="hold_not_found")
        with self._db.read() as conn:
            row = hold_store.get_row(conn, hold_id)
        if row is None:
            raise NotFound(f"no hold {hold_id!r}", code="hold_not_found")
        return self._view(row)

    def list_holds(self, account_id: str | None = None) -> list[dict[str, Any]]:
        if account_id is not None and not is_valid_id(account_id, "acc"):
            return []
        with self._db.read() as conn:
            rows = hold_store.list_rows(conn, account_id)
        return [self._view(row) for row in rows]

    def active(self) -> list[Hold]:
        """Every hold in force, for a sweep: take them once, then test records with
        `tidings.domain.holds.held` or build the sweep's SQL from them."""
        with self._db.read() as conn:
            return hold_store.active_holds(conn)

    def is_held(self, account_id: str, subject_index: bytes | None, at: datetime) -> bool:
        """Is a record of `account_id` about `subject_index` (None: no one subject), dated
        `at`, preserved by an active hold? An account-wide hold covers every subject."""
        with self._db.read() as conn:
            holds = hold_store.active_holds(conn, account_id)
        return held(holds, account_id, subject_index, to_utc(at))

    # --- rendering ---------------------------------------------------------------------
    def _view(self, row: Any) -> dict[str, Any]:
        hold = hold_store.as_hold(row)
        last_day = (hold.held_until - timedelta(days=1)).date() if hold.held_until else None
        dec = self._crypto.decrypt_or_none
        return {
            "id": hold.id,
            "account_id": hold.account_id,
            "subject_index": hold.subject_index.hex() if hold.subject_index else None,
            "from": hold.held_from.date().isoformat() if hold.held_from else None,
            "to": last_day.isoformat() if last_day else None,
            "reason": dec(hold.account_id, "legal_holds.reason", row.reason_enc),
            "authority": dec(hold.account_id, "legal_holds.authority", row.authority_enc),
            "status": "active" if hold.active else "released",
            "created_at": iso(hold.created_at),
            "released_at": iso(hold.released_at),
        }


def _check_day(value: date | None, field: str) -> None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise InvalidInput(
            f"'{field}' must be a day between {FIRST_DAY} and {LAST_DAY}",
            code="invalid_hold_dates",
            extra={"field": field},
        )


def _text(value: str, field: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        what = "why the records are held" if field == "reason" else "who ordered the hold"
        raise InvalidInput(
            f"'{field}' is required; say {what}",
            code=f"invalid_{field}",
            extra={"field": field},
        )
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            f"'{field}' may be at most {MAX_TEXT} characters",
            code=f"invalid_{field}",
            extra={"field": field},
        )
    return text
