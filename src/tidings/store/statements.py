"""Account statements: the usage they count (read from the messages' counters, never their
content), and rows of `account_statements` and `account_statement_lines`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, exists, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tidings.store.tables import account_statement_lines, account_statements, accounts, messages


@dataclass(frozen=True)
class Usage:
    channel: str
    direction: str
    messages: int
    segments: int


def billable(start: datetime, end: datetime) -> Any:
    """Messages of [start, end): an outbound one in the month it was handed to a connector
    (`sent_at`; one never handed over is not billed), an inbound one in the month it was
    received."""
    sent = and_(
        messages.c.direction == "outbound", messages.c.sent_at >= start, messages.c.sent_at < end
    )
    received = and_(
        messages.c.direction == "inbound",
        messages.c.created_at >= start,
        messages.c.created_at < end,
    )
    return or_(sent, received)


def usage(
    conn: Connection, start: datetime, end: datetime, account_ids: Sequence[str] | None
) -> dict[str, list[Usage]]:
    """Per account (all, or those named): messages and segments per channel and direction."""
    query = (
        select(
            messages.c.account_id,
            messages.c.channel,
            messages.c.direction,
            func.count(),
            func.coalesce(func.sum(messages.c.segments), 0),
        )
        .where(billable(start, end))
        .group_by(messages.c.account_id, messages.c.channel, messages.c.direction)
    )
    if account_ids is not None:
        query = query.where(messages.c.account_id.in_(list(account_ids)))
    found: dict[str, list[Usage]] = defaultdict(list)
    for account_id, channel, direction, count, segments in conn.execute(query):
        found[account_id].append(Usage(channel, direction, int(count), int(segments)))
    return found


def unbilled_accounts(
    conn: Connection, period: str, start: datetime, end: datetime, account_id: str | None = None
) -> list[str]:
    """Accounts open at some moment of [start, end) without a statement for `period`."""
    billed = exists().where(
        account_statements.c.account_id == accounts.c.id, account_statements.c.period == period
    )  # a probe of the (account_id, period) unique index per account
    query = (
        select(accounts.c.id)
        .where(
            accounts.c.created_at < end,
            or_(accounts.c.closed_at.is_(None), accounts.c.closed_at >= start),
            ~billed,
        )
        .order_by(accounts.c.id)
    )
    if account_id is not None:
        query = query.where(accounts.c.id == account_id)
    return list(conn.execute(query).scalars())


def insert_statement(conn: Connection, row: dict[str, Any], lines: list[dict[str, Any]]) -> bool:
    """Store a statement and its lines, unless the account has one for that period already
    (then nothing is written: False). One statement per account and month, even when two
    processes issue at once."""
    upsert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(account_statements)
    added = conn.execute(
        upsert.values(row)
        .on_conflict_do_nothing(index_elements=["account_id", "period"])
        .returning(account_statements.c.id)
    ).first()
    if added is None:
        return False
    if lines:
        conn.execute(insert(account_statement_lines), lines)
    return True


def count_statements(conn: Connection, period: str, account_id: str | None) -> int:
    query = select(func.count()).where(account_statements.c.period == period)
    if account_id is not None:
        query = query.where(account_statements.c.account_id == account_id)
    return int(conn.execute(query).scalar_one())


def get_statement(conn: Connection, statement_id: str) -> Row[Any] | None:
    query = select(account_statements).where(account_statements.c.id == statement_id)
    return conn.execute(query).first()


def find_statement(conn: Connection, account_id: str, period: str) -> Row[Any] | None:
    query = select(account_statements).where(
        account_statements.c.account_id == account_id, account_statements.c.period == period
    )
    return conn.execute(query).first()


def list_statements(
    conn: Connection,
    account_id: str | None,
    period: str | None,
    before: str | None,
    limit: int,
) -> list[Row[Any]]:
    """Newest issued first; `before` an id: the page after it."""
    query = select(account_statements).order_by(account_statements.c.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(account_statements.c.account_id == account_id)
    if period is not None:
        query = query.where(account_statements.c.period == period)
    if before is not None:
        query = query.where(account_statements.c.id < before)
    return list(conn.execute(query))


def lines_of(conn: Connection, statement_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    if not statement_ids:
        return {}
    query = (
        select(account_statement_lines)
        .where(account_statement_lines.c.statement_id.in_(list(statement_ids)))
        .order_by(
            account_statement_lines.c.statement_id,
            account_statement_lines.c.channel,
            account_statement_lines.c.direction,
        )
    )
    found: dict[str, list[Row[Any]]] = defaultdict(list)
    for line in conn.execute(query):
        found[line.statement_id].append(line)
    return found
