"""Monthly usage statements: the accounting record of what each account used and owes.

A statement covers one account and one calendar month (UTC). It counts the account's
messages and segments per channel and direction (from the messages' counters, never their
content) and prices them at the rates of `[billing]` in force when it is issued. Once
issued it never changes: issuing again returns it, the rates it used are on its lines, and
it outlives the messages it counted and its account (retention rule `accounting`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tidings.core.clock import Clock, iso, to_utc
from tidings.core.config import BillingConfig
from tidings.core.errors import InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.core.months import Month
from tidings.pipeline.queries import decode_cursor, encode_cursor
from tidings.store import accounts as account_store
from tidings.store import statements as statement_store
from tidings.store.database import Database
from tidings.store.statements import Usage

log = logging.getLogger("tidings.billing")

MAX_PAGE = 500
CHUNK = 500  # accounts issued per transaction
PRECISION = Decimal("0.00001")  # the precision of prices and amounts


@dataclass(frozen=True)
class Issued:
    period: str
    issued: tuple[str, ...]  # ids of the statements issued now
    already_issued: int  # accounts of the period that had theirs

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "issued": list(self.issued),
            "already_issued": self.already_issued,
        }


class StatementService:
    def __init__(self, db: Database, clock: Clock, billing: BillingConfig) -> None:
        self._db = db
        self._clock = clock
        self._billing = billing

    # --- issuing ------------------------------------------------------------------------
    def issue(self, period: str, account_id: str | None = None) -> Issued:
        """Issue the statements of `period` (YYYY-MM, a month that has ended) for every
        account open in it, or for one. Idempotent: an account that has its statement for
        the month keeps it and gets no second one."""
        month = Month.parse(period)
        now = self._clock.now()
        if month.end > now:
            raise InvalidInput(
                f"'period' {month.label} has not ended; statements are issued for months that "
                f"have ended ({month.label} ends at {iso(month.end)})",
                code="period_not_ended",
                extra={"field": "period"},
            )
        if account_id is not None:
            self._require_account(account_id, month)
        with self._db.read() as conn:
            due = statement_store.unbilled_accounts(
                conn, month.label, month.start, month.end, account_id
            )
            # One pass over the month's messages for every account due (or the one named),
            # rather than one per batch of accounts.
            named = [account_id] if account_id is not None else None
            used = statement_store.usage(conn, month.start, month.end, named) if due else {}
        issued: list[str] = []
        for first in range(0, len(due), CHUNK):
            issued += self._issue_chunk(month, due[first : first + CHUNK], used)
        with self._db.read() as conn:
            total = statement_store.count_statements(conn, month.label, account_id)
        return Issued(month.label, tuple(issued), total - len(issued))

    def issue_due(self) -> Issued:
        """The previous month's statements (what `serve` runs on its own)."""
        return self.issue(Month.before(self._clock.now()).label)

    def _issue_chunk(
        self, month: Month, account_ids: list[str], used: dict[str, list[Usage]]
    ) -> list[str]:
        issued: list[str] = []
        with self._db.write() as conn:
            now = self._clock.now()
            for account_id in account_ids:
                statement_id = new_id("stm", now)
                row, lines = self._statement(
                    statement_id, account_id, month, used.get(account_id, [])
                )
                if statement_store.insert_statement(conn, {**row, "issued_at": now}, lines):
                    issued.append(statement_id)
        return issued

    def _statement(
        self, statement_id: str, account_id: str, month: Month, used: list[Usage]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        lines: list[dict[str, Any]] = []
        total = Decimal(0)
        for item in sorted(used, key=lambda u: (u.channel, u.direction)):
            price = self._billing.price(item.channel, item.direction)
            amount = (price * item.segments).quantize(PRECISION)
            total += amount
            lines.append(
                {
                    "statement_id": statement_id,
                    "channel": item.channel,
                    "direction": item.direction,
                    "messages": item.messages,
                    "segments": item.segments,
                    "unit_price": price,
                    "amount": amount,
                }
            )
        row = {
            "id": statement_id,
            "account_id": account_id,
            "period": month.label,
            "period_start": month.start,
            "period_end": month.end,
            "currency": self._billing.currency,
            "messages": sum(u.messages for u in used),
            "segments": sum(u.segments for u in used),
            "total": total,
        }
        return row, lines

    def _require_account(self, account_id: str, month: Month) -> None:
        row = None
        if is_valid_id(account_id, "acc"):
            with self._db.read() as conn:
                row = account_store.get_account(conn, account_id)
        if row is None:
            raise NotFound(
                f"no account {account_id[:64]!r}; list them with: tidings account list",
                code="account_not_found",
                extra={"field": "account_id"},
            )
        created = to_utc(row.created_at)
        closed = to_utc(row.closed_at) if row.closed_at is not None else None
        if created >= month.end or (closed is not None and closed < month.start):
            until = f", closed {closed.date()}" if closed else ""
            raise InvalidInput(
                f"account {account_id} was not open in {month.label} (opened "
                f"{created.date()}{until}); it has no statement for that month",
                code="account_not_in_period",
                extra={"field": "period"},
            )

    # --- reading ------------------------------------------------------------------------
    def get(self, statement_id: str, account_id: str | None = None) -> dict[str, Any]:
        """One statement; with `account_id`, only that account's (others are not found)."""
        row = None
        if is_valid_id(statement_id, "stm"):
            with self._db.read() as conn:
                row = statement_store.get_statement(conn, statement_id)
                lines = statement_store.lines_of(conn, [statement_id])
        if row is None or (account_id is not None and row.account_id != account_id):
            raise NotFound(
                f"no statement {statement_id[:64]!r}",
                code="statement_not_found",
                extra={"field": "statement_id"},
            )
        return _view(row, lines.get(row.id, []))

    def find(self, account_id: str, period: str) -> dict[str, Any] | None:
        month = Month.parse(period)
        with self._db.read() as conn:
            row = statement_store.find_statement(conn, account_id, month.label)
            lines = statement_store.lines_of(conn, [row.id]) if row is not None else {}
        return _view(row, lines.get(row.id, [])) if row is not None else None

    def entries(
        self,
        *,
        account_id: str | None = None,
        period: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Statements newest issued first, a page at a time (one account's, or all)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                f"'limit' must be from 1 to {MAX_PAGE}",
                code="invalid_limit",
                extra={"field": "limit"},
            )
        label = Month.parse(period).label if period is not None else None
        before = decode_cursor(cursor, "stm") if cursor else None
        with self._db.read() as conn:
            rows = statement_store.list_statements(conn, account_id, label, before, limit + 1)
            page = rows[:limit]
            lines = statement_store.lines_of(conn, [r.id for r in page])
        return {
            "data": [_view(r, lines.get(r.id, [])) for r in page],
            "next_cursor": encode_cursor(page[-1].id) if len(rows) > limit else None,
        }


def _money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(PRECISION))


def _view(row: Any, lines: list[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "period": row.period,
        "period_start": iso(to_utc(row.period_start)),
        "period_end": iso(to_utc(row.period_end)),
        "currency": row.currency,
        "messages": row.messages,
        "segments": row.segments,
        "total": _money(row.total),
        "lines": [
            {
                "channel": line.channel,
                "direction": line.direction,
                "messages": line.messages,
                "segments": line.segments,
                "unit_price": _money(line.unit_price),
                "amount": _money(line.amount),
            }
            for line in lines
        ],
        "issued_at": iso(to_utc(row.issued_at)),
    }


# --- the periodic worker -----------------------------------------------------------------


def scheduled_issue(service: StatementService) -> Callable[[threading.Event], None]:
    """Statements as `serve` issues them (core/periodic.py): the previous month's the
    accounts do not have yet (a check of one query once they all have theirs)."""

    def run(stopping: threading.Event) -> None:
        done = service.issue_due()
        if done.issued:
            log.info("issued %d statements for %s", len(done.issued), done.period)

    return run
