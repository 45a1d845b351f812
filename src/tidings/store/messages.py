"""Messages, their status history, the dispatch queue (outbox) and idempotency keys."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, and_, bindparam, delete, func, insert, or_, select, update

from tidings.store.bulk import (
    driver_in,
    driver_rows,
    driver_time,
    in_list,
    insert_rows,
    insert_values,
    read_time,
    update_rows,
)
from tidings.store.tables import (
    dispatch_queue,
    idempotency_keys,
    message_bodies,
    message_events,
    messages,
)

# A message row with its text (`body_enc`, None once redacted), as every reader sees it.
messages_with_body = select(messages, message_bodies.c.body_enc).select_from(
    messages.outerjoin(message_bodies, message_bodies.c.message_id == messages.c.id)
)


def insert_messages(
    conn: Connection,
    rows: Sequence[dict[str, Any]],
    events: Sequence[dict[str, Any]],
    queue: Sequence[dict[str, Any]],
) -> None:
    """The message, its text, its first history entry and its dispatch work: one
    transaction (outbox). Each row carries its text as `body_enc`, stored apart."""
    if rows:
        columns = [c for c in rows[0] if c != "body_enc"]
        insert_rows(conn, messages, rows, columns)
        bodies = [(r["id"], r["body_enc"]) for r in rows if r["body_enc"] is not None]
        insert_values(conn, message_bodies, ("message_id", "body_enc"), bodies)
    insert_rows(conn, message_events, events)
    insert_rows(conn, dispatch_queue, queue)


def insert_outbound(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Outbound messages as accepted, with what goes with them (`insert_messages`): their
    first history entry (their status when created) and their dispatch work (due at
    `send_at`, or at once)."""
    if not rows:
        return
    insert_messages(conn, rows, [], [])
    insert_values(
        conn,
        message_events,
        ("message_id", "status", "at"),
        [(r["id"], r["status"], r["created_at"]) for r in rows],
    )
    insert_values(
        conn,
        dispatch_queue,
        ("message_id", "run_at", "tried_connectors"),
        [(r["id"], r["send_at"] or r["created_at"], "") for r in rows],
    )


def get_message(conn: Connection, account_id: str, message_id: str) -> Row[Any] | None:
    return conn.execute(
        messages_with_body.where(messages.c.id == message_id, messages.c.account_id == account_id)
    ).first()


def history(conn: Connection, message_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    result: dict[str, list[Row[Any]]] = {m: [] for m in message_ids}
    if not message_ids:
        return result
    for row in conn.execute(
        select(message_events)
        .where(in_list(conn, message_events.c.message_id, message_ids))
        .order_by(message_events.c.id)
    ):
        result[row.message_id].append(row)
    return result


# Messages a listing by status reads at most for one page: no index names the status
# (tables.py), so a page may come back short, with a cursor to read on from.
STATUS_SCAN = 10_000


def list_messages(
    conn: Connection,
    account_id: str,
    *,
    status: str | None = None,
    recipient_index: bytes | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: str | None = None,
    limit: int = 50,
) -> tuple[list[Row[Any]], str | None]:
    """Newest first; `before_id` continues after the last id of a previous page.

    Returns the rows and, when a listing by status stopped at `STATUS_SCAN` messages
    before finding `limit`, the id of the last message it read (the next page starts
    below it); else None."""
    filters = [messages.c.account_id == account_id]
    if recipient_index is not None:
        filters.append(messages.c.recipient_index == recipient_index)
    if since is not None:
        filters.append(messages.c.created_at >= since)
    if until is not None:
        filters.append(messages.c.created_at < until)
    if before_id is not None:
        filters.append(messages.c.id < before_id)
    newest = messages_with_body.where(*filters).order_by(messages.c.id.desc())
    if status is None:
        return list(conn.execute(newest.limit(limit))), None
    window = conn.execute(
        select(messages.c.id, messages.c.status)
        .where(*filters)
        .order_by(messages.c.id.desc())
        .limit(STATUS_SCAN)
    ).all()
    ids = [row.id for row in window if row.status == status][:limit]
    stopped = window[-1].id if len(window) == STATUS_SCAN and len(ids) < limit else None
    if not ids:
        return [], stopped
    # The status again: a message may have moved on since the window was read.
    rows = conn.execute(
        newest.where(in_list(conn, messages.c.id, ids), messages.c.status == status)
    )
    return list(rows), stopped


class MessageState(NamedTuple):
    """What the status writer needs of a message (times naive UTC on SQLite)."""

    id: str
    account_id: str
    status: str
    status_callback: str | None
    created_at: datetime
    attempts: int
    expires_at: datetime | None


_STATE_COLUMNS = "id, account_id, status, status_callback, created_at, attempts, expires_at"


def _state(row: Any) -> MessageState:
    expires = row[6]
    return MessageState(
        row[0],
        row[1],
        row[2],
        row[3],
        read_time(row[4]),
        row[5],
        None if expires is None else read_time(expires),
    )


def lock_states(
    conn: Connection, message_ids: Sequence[str], for_update: bool
) -> dict[str, MessageState]:
    """Current status and routing fields of messages, locked on PostgreSQL.

    Driver-level SQL: this runs in every status change, and compiling the statement
    with its list of ids cost more than the query."""
    if not message_ids:
        return {}
    test, params = driver_in(conn, message_ids)
    sql = f"SELECT {_STATE_COLUMNS} FROM messages WHERE id {test}"
    if for_update:
        sql += " FOR UPDATE"
    return {row[0]: _state(row) for row in driver_rows(conn, sql, tuple(params))}


def update_messages(conn: Connection, changes: Iterable[dict[str, Any]]) -> None:
    """Each change is {"id": ..., column: value, ...}."""
    update_rows(conn, messages, "id", list(changes))


def insert_events(conn: Connection, events: Sequence[dict[str, Any]]) -> None:
    insert_rows(conn, message_events, events)


# --- dispatch queue ----------------------------------------------------------


class ClaimedWork(NamedTuple):
    message_id: str
    tried_connectors: str


def claim_due(
    conn: Connection,
    *,
    now: datetime,
    limit: int,
    owner: str,
    lease_until: datetime,
    skip_locked: bool,
) -> list[ClaimedWork]:
    """Lease up to `limit` due work items, oldest first; returns their `message_id` and
    `tried_connectors`. One statement (the lease is taken by the update that finds them).

    A leased item is due again when its lease ends: the claim moves its `run_at` there
    (and renewing moves it on). So "due" is `run_at <= now` alone, which the queue's index
    answers in its order, and the items in flight are not in the next claim's way."""
    sql = claim_statement(conn.dialect.name == "postgresql", skip_locked)
    until = driver_time(conn, lease_until)
    params = (until, owner, until, driver_time(conn, now), limit)
    # Planned at each claim: the queue's size swings from nothing to millions and back.
    rows = driver_rows(conn, sql, params, plan_each_time=True)
    return [ClaimedWork(*row) for row in rows]


def claim_statement(postgresql: bool, skip_locked: bool) -> str:
    """`claim_due`'s SQL; parameters: lease until, owner, lease until, now, limit.

    Plans stay right whatever the planner believes of the queue's size (a new or busy
    queue has no statistics to speak of):
    - the due items are found by one range on `run_at`, in the index's order. With the
      lease's test beside it, the planner guessed a few hundred rows would pass and
      sorted the whole queue for every claim: 200 to 400 µs per message claimed, for a queue
      of 50,000;
    - on PostgreSQL the found ids reach the update as one array, so it finds its rows by
      the primary key: written as a join, it read the whole queue into a hash each claim;
    - and it is planned at each run (`claim_due`): a worker that started with an empty
      queue kept the plan made then, a scan of the whole queue, for every later claim."""
    due = "SELECT message_id FROM dispatch_queue WHERE run_at <= {m} ORDER BY run_at LIMIT {m}"
    if postgresql:
        if skip_locked:
            due += " FOR UPDATE SKIP LOCKED"
        return (
            "UPDATE dispatch_queue SET lease_until = %s, lease_owner = %s, run_at = %s"
            f" WHERE message_id = ANY(ARRAY({due.format(m='%s')}))"
            " RETURNING message_id, tried_connectors"
        )
    return (
        "UPDATE dispatch_queue SET lease_until = ?, lease_owner = ?, run_at = ?"
        f" WHERE message_id IN ({due.format(m='?')})"
        " RETURNING message_id, tried_connectors"
    )


class DispatchRow(NamedTuple):
    """A message as the dispatcher sends it, with the fields of `MessageState`."""

    id: str
    account_id: str
    status: str
    status_callback: str | None
    created_at: datetime
    attempts: int
    expires_at: datetime | None
    channel: str
    sender_enc: bytes | None
    recipient_enc: bytes | None
    body_enc: bytes | None
    encoding: str
    segments: int


def load_for_dispatch(conn: Connection, message_ids: Sequence[str]) -> list[DispatchRow]:
    if not message_ids:
        return []
    test, params = driver_in(conn, message_ids)
    sql = (
        f"SELECT {_STATE_COLUMNS}, channel, sender_enc, recipient_enc, body_enc, encoding,"
        f" segments FROM messages LEFT JOIN message_bodies ON message_id = id WHERE id {test}"
    )
    return [DispatchRow(*_state(row), *row[7:]) for row in driver_rows(conn, sql, tuple(params))]


def finish_work(conn: Connection, message_ids: Sequence[str]) -> None:
    if message_ids:
        test, params = driver_in(conn, message_ids)
        driver_rows(conn, f"DELETE FROM dispatch_queue WHERE message_id {test}", tuple(params))


def requeue(conn: Connection, items: Sequence[dict[str, Any]]) -> None:
    """Release leases: each item is {"message_id", "run_at", "tried_connectors"}."""
    if not items:
        return
    conn.execute(
        update(dispatch_queue)
        .where(dispatch_queue.c.message_id == bindparam("_id"))
        .values(
            run_at=bindparam("run_at"),
            tried_connectors=bindparam("tried"),
            lease_until=None,
            lease_owner=None,
        ),
        [
            {"_id": i["message_id"], "run_at": i["run_at"], "tried": i["tried_connectors"]}
            for i in items
        ],
    )


def release_all_leases(conn: Connection, now: datetime) -> int:
    """Release every lease: the work is due at once (not when its lease would have ended)."""
    result = conn.execute(
        update(dispatch_queue)
        .where(dispatch_queue.c.lease_until.is_not(None))
        .values(lease_until=None, lease_owner=None, run_at=now)
    )
    return int(result.rowcount)


def cancel_work(conn: Connection, message_id: str, now: datetime) -> bool:
    """Remove queued work unless a worker holds it right now."""
    result = conn.execute(
        delete(dispatch_queue).where(
            dispatch_queue.c.message_id == message_id,
            or_(dispatch_queue.c.lease_until.is_(None), dispatch_queue.c.lease_until < now),
        )
    )
    return result.rowcount == 1


def queue_depth(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(dispatch_queue)).scalar() or 0)


def status_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(messages.c.status, func.count()).group_by(messages.c.status))
    return {row[0]: int(row[1]) for row in rows}


# --- idempotency -------------------------------------------------------------


def idempotency_entry(conn: Connection, account_id: str, key: str) -> Row[Any] | None:
    return conn.execute(
        select(idempotency_keys).where(
            and_(idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key)
        )
    ).first()


def insert_idempotency(
    conn: Connection,
    *,
    account_id: str,
    key: str,
    request_hash: bytes,
    message_id: str,
    created_at: datetime,
) -> None:
    conn.execute(
        insert(idempotency_keys).values(
            account_id=account_id,
            key=key,
            request_hash=request_hash,
            message_id=message_id,
            created_at=created_at,
        )
    )


def renew_leases(conn: Connection, message_ids: Sequence[str], owner: str, until: datetime) -> None:
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        conn.execute(
            update(dispatch_queue)
            .where(
                in_list(conn, dispatch_queue.c.message_id, chunk),
                dispatch_queue.c.lease_owner == owner,
            )
            .values(lease_until=until, run_at=until)  # due again when the lease ends
        )
