"""The consent ledger, the suppression list (opted-out numbers) and consent settings.

Numbers appear only as their blind index within the account (the same index as
`messages.recipient_index`), so an opt-out survives the erasure of the contact and no
lookup needs the plaintext number.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    delete,
    insert,
    literal,
    select,
    union_all,
    update,
)

from tidings.domain.consent import ALL, CHANNELS, Event
from tidings.store.bulk import in_list
from tidings.store.tables import (
    accounts,
    consent_events,
    consent_settings,
    dispatch_queue,
    messages,
    suppressions,
    user_consent_events,
)


def as_event(row: Any) -> Event:
    return Event(row.id, row.seq, row.channel, row.purpose, row.action, row.basis, row.occurred_at)


# --- the ledger ------------------------------------------------------------------------


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(consent_events), list(rows))


def events_of_number(conn: Connection, account_id: str, number_index: bytes) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(consent_events)
            .where(
                consent_events.c.account_id == account_id,
                consent_events.c.number_index == number_index,
            )
            .order_by(consent_events.c.occurred_at, consent_events.c.seq)
        )
    )


def consent_facts(
    conn: Connection,
    account_id: str,
    number_indexes: Sequence[bytes],
    purposes: Sequence[str],
    *,
    with_ledger: bool,
) -> tuple[dict[bytes, list[Event]], dict[bytes, set[str]]]:
    """For many numbers at once, in ONE statement: their ledger events for `purposes`
    (when `with_ledger`) and the channels they opted out of.

    Returns (events by number index, suppressed channels by number index).
    """
    events: dict[bytes, list[Event]] = {}
    suppressed: dict[bytes, set[str]] = {}
    if not number_indexes:
        return events, suppressed
    indexes = list(dict.fromkeys(number_indexes))
    opted_out = select(
        literal("s").label("kind"),
        suppressions.c.number_index,
        literal("").label("id"),
        literal(0).label("seq"),
        suppressions.c.channel,
        literal("").label("purpose"),
        literal("").label("action"),
        literal("").label("basis"),
        suppressions.c.created_at.label("occurred_at"),
    ).where(
        suppressions.c.account_id == account_id, in_list(conn, suppressions.c.number_index, indexes)
    )
    query: Any = opted_out
    if with_ledger:
        ledger = select(
            literal("e").label("kind"),
            consent_events.c.number_index,
            consent_events.c.id,
            consent_events.c.seq,
            consent_events.c.channel,
            consent_events.c.purpose,
            consent_events.c.action,
            consent_events.c.basis,
            consent_events.c.occurred_at,
        ).where(
            consent_events.c.account_id == account_id,
            in_list(conn, consent_events.c.number_index, indexes),
            consent_events.c.purpose.in_(list(purposes)),
        )
        query = union_all(opted_out, ledger)
    for row in conn.execute(query):
        index = bytes(row.number_index)
        if row.kind == "s":
            suppressed.setdefault(index, set()).add(row.channel)
        else:
            events.setdefault(index, []).append(as_event(row))
    return events, suppressed


# --- suppression ---------------------------------------------------------------------


def suppressed_channels(conn: Connection, account_id: str, number_index: bytes) -> set[str]:
    rows = conn.execute(
        select(suppressions.c.channel).where(
            suppressions.c.account_id == account_id,
            suppressions.c.number_index == number_index,
        )
    )
    return {row.channel for row in rows}


def suppress(
    conn: Connection,
    *,
    account_id: str,
    number_index: bytes,
    channel: str,
    source: str,
    event_id: str,
    now: datetime,
) -> None:
    """Add the number to the suppression list for `channel` (or `all`); idempotent."""
    if channel == ALL:  # `all` replaces the single channels
        _unsuppress(conn, account_id, number_index, None)
    elif ALL in suppressed_channels(conn, account_id, number_index):
        return
    else:
        _unsuppress(conn, account_id, number_index, [channel])
    conn.execute(
        insert(suppressions).values(
            account_id=account_id,
            number_index=number_index,
            channel=channel,
            source=source,
            event_id=event_id,
            created_at=now,
        )
    )


def unsuppress(
    conn: Connection,
    *,
    account_id: str,
    number_index: bytes,
    channel: str,
    source: str,
    event_id: str,
    now: datetime,
) -> bool:
    """Lift the opt-out for `channel` (for every channel when `all`). An opt-out of all
    channels lifted on one channel stays in force on the others. True when one was lifted."""
    current = suppressed_channels(conn, account_id, number_index)
    if channel == ALL or channel in current:
        _unsuppress(conn, account_id, number_index, None if channel == ALL else [channel])
    if channel != ALL and ALL in current:
        _unsuppress(conn, account_id, number_index, [ALL])
        conn.execute(
            insert(suppressions),
            [
                {
                    "account_id": account_id,
                    "number_index": number_index,
                    "channel": other,
                    "source": source,
                    "event_id": event_id,
                    "created_at": now,
                }
                for other in CHANNELS
                if other != channel
            ],
        )
    return channel in current or ALL in current or (channel == ALL and bool(current))


def _unsuppress(
    conn: Connection, account_id: str, number_index: bytes, channels: list[str] | None
) -> None:
    condition = and_(
        suppressions.c.account_id == account_id, suppressions.c.number_index == number_index
    )
    if channels is not None:
        condition = and_(condition, suppressions.c.channel.in_(channels))
    conn.execute(delete(suppressions).where(condition))


# --- messages waiting for a number that just opted out ----------------------------------


def pending_messages_to(
    conn: Connection,
    account_id: str,
    number_index: bytes,
    channels: Sequence[str] | None,
    purposes_excluded: Sequence[str],
    purposes_only: Sequence[str] | None = None,
) -> list[str]:
    """Scheduled or queued outbound messages to the number (on `channels`, or any), whose
    purpose is not among `purposes_excluded` (and among `purposes_only`, when given)."""
    query = select(messages.c.id).where(
        messages.c.account_id == account_id,
        messages.c.recipient_index == number_index,
        messages.c.direction == "outbound",
        messages.c.status.in_(("scheduled", "queued")),
    )
    if channels is not None:
        query = query.where(messages.c.channel.in_(list(channels)))
    if purposes_excluded:
        query = query.where(messages.c.purpose.not_in(list(purposes_excluded)))
    if purposes_only is not None:
        query = query.where(messages.c.purpose.in_(list(purposes_only)))
    return [row.id for row in conn.execute(query)]


def pending_messages_to_numbers(
    conn: Connection, account_id: str, number_indexes: Sequence[bytes], purposes: Sequence[str]
) -> list[tuple[str, bytes, str, str]]:
    """Scheduled or queued outbound messages of `purposes` to any of the numbers, as
    (message id, recipient index, channel, purpose)."""
    if not number_indexes:
        return []
    query = select(
        messages.c.id, messages.c.recipient_index, messages.c.channel, messages.c.purpose
    ).where(
        messages.c.account_id == account_id,
        in_list(conn, messages.c.recipient_index, number_indexes),
        messages.c.direction == "outbound",
        messages.c.status.in_(("scheduled", "queued")),
        messages.c.purpose.in_(list(purposes)),
    )
    return [
        (row.id, bytes(row.recipient_index), row.channel, row.purpose)
        for row in conn.execute(query)
    ]


def take_unleased_work(conn: Connection, message_ids: Sequence[str], now: datetime) -> list[str]:
    """Remove the dispatch work of these messages unless a worker holds it right now;
    returns the ids whose work was removed (those can no longer be sent)."""
    if not message_ids:
        return []
    free = (dispatch_queue.c.lease_until.is_(None)) | (dispatch_queue.c.lease_until < now)
    result = conn.execute(
        delete(dispatch_queue)
        .where(in_list(conn, dispatch_queue.c.message_id, message_ids), free)
        .returning(dispatch_queue.c.message_id)
    )
    return [row.message_id for row in result]


def lock_account(conn: Connection, account_id: str, *, exclusive: bool) -> None:
    """Order opt-outs and consent-checked accepts of one account on PostgreSQL: an accept
    holds the account row shared while it checks and inserts, an opt-out exclusively, so
    an accept either commits before the opt-out looks for queued messages or sees the
    opt-out. (SQLite has one writer at a time, which orders them already.)"""
    if conn.dialect.name != "postgresql":
        return
    query = select(accounts.c.id).where(accounts.c.id == account_id)
    conn.execute(query.with_for_update(read=not exclusive))


# --- settings ------------------------------------------------------------------------


def get_settings(conn: Connection, account_id: str) -> Row[Any] | None:
    return conn.execute(
        select(consent_settings).where(consent_settings.c.account_id == account_id)
    ).first()


def put_settings(conn: Connection, account_id: str, now: datetime, **values: Any) -> None:
    """Create or change an account's consent settings (only the given columns change)."""
    exists = get_settings(conn, account_id) is not None
    if exists:
        conn.execute(
            update(consent_settings)
            .where(consent_settings.c.account_id == account_id)
            .values(updated_at=now, **values)
        )
        return
    row = {"transactional": "allow", "confirm_by_reply": False, "keywords": None, **values}
    conn.execute(insert(consent_settings).values(account_id=account_id, updated_at=now, **row))


def refusing_accounts(conn: Connection) -> set[str]:
    """Accounts that refuse transactional messages to opted-out numbers."""
    rows = conn.execute(
        select(consent_settings.c.account_id).where(consent_settings.c.transactional == "refuse")
    )
    return {row.account_id for row in rows}


# --- the operator's own marketing to account users -------------------------------------


ENDS_CONSENT = ("withdrawn", "objected")


def insert_user_event(conn: Connection, row: dict[str, Any]) -> None:
    """Append an event; a withdrawal or objection also marks when the events of its user,
    channel and purpose were withdrawn (the retention anchor `withdrawn`)."""
    if row["action"] in ENDS_CONSENT:
        row = {**row, "withdrawn_at": row["occurred_at"]}
        conn.execute(
            update(user_consent_events)
            .where(
                user_consent_events.c.user_id == row["user_id"],
                user_consent_events.c.channel == row["channel"],
                user_consent_events.c.purpose == row["purpose"],
                user_consent_events.c.occurred_at <= row["occurred_at"],
                user_consent_events.c.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=row["occurred_at"])
        )
    conn.execute(insert(user_consent_events).values(**row))


def user_events(conn: Connection, user_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    result: dict[str, list[Row[Any]]] = {u: [] for u in user_ids}
    if not user_ids:
        return result
    for row in conn.execute(
        select(user_consent_events)
        .where(in_list(conn, user_consent_events.c.user_id, user_ids))
        .order_by(user_consent_events.c.occurred_at, user_consent_events.c.seq)
    ):
        result[row.user_id].append(row)
    return result
