"""Receipts find their message through an index of sent messages only: a message is
entered when it gets the operator's id, never while queued."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert

from tests.support import message_row
from tidings.core.ids import new_id
from tidings.store.database import Database
from tidings.store.parts import find_receipt_targets
from tidings.store.tables import messages

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _message(conn: Connection, ref: str | None) -> str:
    message_id = new_id("msg", NOW)
    conn.execute(
        insert(messages),
        message_row(
            message_id,
            NOW,
            account_id="acc_1",
            sender_index=b"index",
            recipient_index=b"index",
            status="sent" if ref else "queued",
            attempts=1,
            connector="sim" if ref else None,
            connector_message_id=ref,
        ),
    )
    return message_id


def _index_definitions(db: Database) -> list[str]:
    with db.read() as conn:
        sql = (
            "SELECT sql FROM sqlite_master WHERE name = 'ix_messages_connector_ref'"
            if db.is_sqlite
            else "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_connector_ref'"
        )
        return [str(d) for d in conn.exec_driver_sql(sql).scalars()]


def test_receipts_find_sent_messages_and_queued_ones_stay_out_of_the_index(db: Database) -> None:
    with db.write() as conn:
        queued = [_message(conn, None) for _ in range(3)]
        sent = {ref: _message(conn, ref) for ref in ("op-1", "op-2")}
    with db.read() as conn:
        found = find_receipt_targets(conn, "sim", ["op-1", "op-2", "op-unknown"])
        assert found.messages == sent and found.parts == {}
        assert find_receipt_targets(conn, "other", ["op-1"]).messages == {}
        if db.is_sqlite:
            plan = " ".join(
                str(row[3])
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE connector = 'sim'"
                    " AND connector_message_id IN ('op-1', 'op-2')"
                    " AND connector_message_id IS NOT NULL"
                )
            )
            assert "USING INDEX ix_messages_connector_ref" in plan
    assert len(queued) == 3
    (definition,) = _index_definitions(db)
    assert (
        definition.replace("(", "")
        .replace(")", "")
        .endswith("WHERE connector_message_id IS NOT NULL")
    )
