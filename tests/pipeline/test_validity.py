"""The validity sweep reads only the messages it can expire, however many there are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, insert

from tidings.core.ids import new_ids
from tidings.pipeline.validity import ended_validity
from tidings.store.database import Database
from tidings.store.tables import messages

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _plan(conn: Connection, before: datetime) -> str:
    compiled = ended_validity(before, 1000).compile(dialect=conn.dialect)
    if conn.dialect.name == "sqlite":
        values = tuple(compiled.params[name] for name in compiled.positiontup or ())
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", values)
        return "\n".join(str(row[-1]) for row in rows)
    # Partitions known to be empty would be read whole (nothing to read): ask for the plan
    # the planner makes when it must not read a table whole, the one for a full partition.
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", dict(compiled.params))
    return "\n".join(str(row[0]) for row in rows)


def _message(message_id: str, status: str, expires_at: datetime | None) -> dict[str, object]:
    return {
        "id": message_id,
        "account_id": "acc_validity",
        "direction": "outbound",
        "channel": "sms",
        "sender_index": b"s",
        "recipient_index": b"r",
        "encoding": "gsm7",
        "segments": 1,
        "status": status,
        "attempts": 1,
        "expires_at": expires_at,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_the_sweep_reads_the_partial_index_not_the_table(db: Database) -> None:
    with db.read() as conn:
        plan = _plan(conn, NOW)
    if db.is_sqlite:
        assert "USING INDEX ix_messages_sent_expires_at" in plan, plan
        assert "SCAN messages" not in plan, plan
    else:  # every partition's copy of the index is named after its column
        assert "expires_at_idx" in plan, plan
        assert "account_id_status" not in plan, plan


def test_the_sweep_finds_exactly_the_sent_messages_whose_validity_ended(db: Database) -> None:
    ids = new_ids("msg", NOW, 5)
    rows = [
        _message(ids[0], "sent", NOW - timedelta(minutes=20)),  # ended: found
        _message(ids[1], "sent", NOW + timedelta(minutes=20)),  # still valid
        _message(ids[2], "sent", None),  # no validity: waits for a receipt
        _message(ids[3], "delivered", NOW - timedelta(minutes=20)),  # final already
        _message(ids[4], "queued", NOW - timedelta(minutes=20)),  # not handed over
    ]
    with db.write() as conn:
        conn.execute(insert(messages), rows)
    with db.read() as conn:
        assert list(conn.scalars(ended_validity(NOW, 1000))) == [ids[0]]
