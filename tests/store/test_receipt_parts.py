"""Receipts find their message through its parts, by the operator's id: a message the
peer took whole has one part, a message sent in several submits one per submit. No
index of the messages names the operator's id (their `sent` update stays in place)."""

from __future__ import annotations

from datetime import UTC, datetime

from tidings.channels.base import PartResult, SendResult
from tidings.core.ids import new_ids
from tidings.store.database import Database
from tidings.store.parts import find_receipt_parts, replace_parts

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _rows(message_id: str, connector: str, result: SendResult) -> list[dict[str, object]]:
    return [
        {
            "message_id": message_id,
            "part_number": part.number,
            "connector": connector,
            "connector_message_id": part.connector_message_id,
            "status": part.status,
            "error_code": part.error_code,
            "submitted_at": NOW,
            "done_at": None,
        }
        for part in result.submitted()
    ]


def test_a_message_taken_whole_is_its_one_part() -> None:
    whole = SendResult("accepted", connector_message_id="op-7")
    assert whole.submitted() == (PartResult(1, "op-7", "sent"),)
    parts = (PartResult(1, "op-8", "sent"), PartResult(2, "op-9", "sent"))
    assert SendResult("accepted", "op-8", parts=parts).submitted() == parts
    assert SendResult("permanent", error_code="x").submitted() == ()
    assert SendResult("temporary", connector_message_id="op-1").submitted() == ()


def test_receipts_find_their_parts_by_connector_and_operator_id(db: Database) -> None:
    whole, split = new_ids("msg", NOW, 2)
    with db.write() as conn:
        replace_parts(conn, _rows(whole, "sim", SendResult("accepted", "op-1")))
        two = (PartResult(1, "op-2", "sent"), PartResult(2, "op-3", "sent"))
        replace_parts(conn, _rows(split, "smsc", SendResult("accepted", "op-2", parts=two)))
    with db.read() as conn:
        assert find_receipt_parts(conn, "sim", ["op-1", "op-2", "op-unknown"]) == {
            "op-1": (whole, 1, 1)
        }
        assert find_receipt_parts(conn, "smsc", ["op-3", "op-2"]) == {
            "op-2": (split, 1, 2),
            "op-3": (split, 2, 2),
        }
        assert find_receipt_parts(conn, "other", ["op-1"]) == {}
        assert find_receipt_parts(conn, "sim", []) == {}
        if db.is_sqlite:
            plan = " ".join(
                str(row[3])
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT message_id FROM message_parts"
                    " WHERE connector = 'sim' AND connector_message_id IN ('op-1', 'op-2')"
                )
            )
            assert "USING INDEX ix_message_parts_connector_ref" in plan
