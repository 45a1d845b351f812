"""A status change rewrites the message row alone: no index of the messages names the
status or the operator's id, and on PostgreSQL the row is rewritten within its page
(HOT), with no new entry in any index. So is a part's row at its receipt."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, insert

from tests.support import message_row
from tidings.core.ids import new_ids
from tidings.store import messages as message_store
from tidings.store.database import Database
from tidings.store.partitions import FILLFACTOR, Month, ensure_months, partitions_of
from tidings.store.parts import record_part_statuses, replace_parts
from tidings.store.tables import messages

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

_PARTITION_STORAGE = "SELECT oid, reloptions FROM pg_class WHERE oid = to_regclass(%s)"


def _partitions(conn: Connection) -> dict[str, tuple[int, list[str] | None]]:
    """Each message partition's (oid, storage options)."""
    found = {}
    for name in partitions_of(conn, "messages"):
        oid, options = conn.exec_driver_sql(_PARTITION_STORAGE, (name,)).one()
        found[name] = (oid, options)
    return found


def _index_definitions(conn: Connection) -> list[str]:
    sql = (
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
        " AND sql IS NOT NULL"
        if conn.dialect.name == "sqlite"
        else "SELECT indexdef FROM pg_indexes WHERE tablename = 'messages'"
    )
    return [str(d) for d in conn.exec_driver_sql(sql).scalars()]


def _hot_updates(conn: Connection) -> int:
    """Rows of the message partitions updated in place by this backend, as counted since
    its last report to the statistics (take the difference around a statement)."""
    oids = [oid for oid, _options in _partitions(conn).values()]
    return sum(
        int(conn.exec_driver_sql("SELECT pg_stat_get_xact_tuples_hot_updated(%s)", (oid,)).scalar())
        for oid in oids
    )


def test_no_index_of_the_messages_names_a_column_that_changes(db: Database) -> None:
    with db.read() as conn:
        definitions = _index_definitions(conn)
    assert any("account_id, id" in d for d in definitions), definitions
    changing = ("status", "connector", "_at", "attempts", "error")
    assert not [d for d in definitions if any(c in d for c in changing)], definitions


def test_message_partitions_leave_room_for_rewrites_made_now_and_later(db: Database) -> None:
    if db.is_sqlite:
        return  # SQLite rewrites a row where it is; it has no such setting
    fill = f"fillfactor={FILLFACTOR['messages']}"
    with db.write() as conn:
        ensure_months(conn, [Month(2031, 1)])
        partitions = {name: options for name, (_oid, options) in _partitions(conn).items()}
    assert "messages_m203101" in partitions and "messages_default" in partitions
    assert all(options == [fill] for options in partitions.values()), partitions


def test_every_status_change_rewrites_the_row_in_its_page(db: Database) -> None:
    if db.is_sqlite:
        return
    ids = new_ids("msg", NOW, 10)
    with db.write() as conn:
        conn.execute(
            insert(messages),
            [message_row(message_id, NOW, account_id="acc_hot") for message_id in ids],
        )
    steps = [
        ("sending", {"attempts": 1}),
        ("sent", {"connector": "op1", "connector_message_id": "ref", "sent_at": NOW}),
        ("delivered", {"delivered_at": NOW}),
    ]
    for status, fields in steps:
        with db.write() as conn:
            before = _hot_updates(conn)
            message_store.update_messages(
                conn,
                [{"id": m, "status": status, "updated_at": NOW, **fields} for m in ids],
            )
            assert _hot_updates(conn) - before == len(ids), status


def _table_hot_updates(conn: Connection, table: str) -> int:
    return int(
        conn.exec_driver_sql(
            "SELECT pg_stat_get_xact_tuples_hot_updated(to_regclass(%s))", (table,)
        ).scalar()
    )


def test_a_receipt_rewrites_its_part_in_its_page(db: Database) -> None:
    """A part's receipt changes no indexed column, and the parts' pages leave room for the
    new version: every part stays in place, whatever the order of the receipts."""
    if db.is_sqlite:
        return
    count = 400  # several pages
    ids = new_ids("msg", NOW, count)
    with db.write() as conn:
        options = conn.exec_driver_sql(_PARTITION_STORAGE, ("message_parts",)).one()[1]
        assert options == [f"fillfactor={FILLFACTOR['message_parts']}"], options
        replace_parts(
            conn,
            [
                {
                    "message_id": m,
                    "part_number": 1,
                    "connector": "op1",
                    "connector_message_id": f"operator-reference-{n:08d}",
                    "status": "sent",
                    "error_code": None,
                    "submitted_at": NOW,
                    "done_at": None,
                }
                for n, m in enumerate(ids)
            ],
        )
    with db.write() as conn:
        before = _table_hot_updates(conn, "message_parts")
        record_part_statuses(
            conn,
            [
                {
                    "message_id": m,
                    "part_number": 1,
                    "status": "undelivered",
                    "error_code": "operator_error_code",
                    "done_at": NOW,
                }
                for m in reversed(ids)
            ],
        )
        assert _table_hot_updates(conn, "message_parts") - before == count
