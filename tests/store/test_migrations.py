"""The migrations build exactly the schema the tables declare."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, insert, inspect, select, text

from tests.support import message_row
from tidings.core.clock import to_utc
from tidings.core.ids import new_ids
from tidings.store.database import Database
from tidings.store.migrate import downgrade, upgrade
from tidings.store.partitions import is_partition
from tidings.store.parts import find_receipt_parts, replace_parts
from tidings.store.tables import (
    dispatch_queue,
    message_parts,
    messages,
    metadata,
    validity_watch,
)


def _declared(name: str | None, kind: str, _parents: object) -> bool:
    """Everything but the monthly partitions of the message tables (PostgreSQL)."""
    return not (kind == "table" and name is not None and is_partition(name))


def _for_dialect(dialect: str) -> Callable[..., bool]:
    """Leave out what the tables declare for another database only (`ddl_if`)."""

    def include(obj: object, _name: object, _kind: str, _reflected: bool, _other: object) -> bool:
        only = getattr(obj, "_ddl_if", None)
        return only is None or only.dialect in (None, dialect)

    return include


@contextmanager
def _from_revision(database_url: str, revision: str) -> Iterator[Database]:
    """The database migrated down to `revision`, and up to the head again afterwards:
    other tests share the PostgreSQL database."""
    db = Database(database_url)
    try:
        upgrade(db)
        downgrade(db, revision)
        yield db
    finally:
        upgrade(db)
        db.dispose()


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db)
        upgrade(db)  # applying again is a no-op
        with db.engine.connect() as conn:
            options = {
                "compare_type": True,
                "include_name": _declared,
                "include_object": _for_dialect(conn.dialect.name),
            }
            diff = compare_metadata(MigrationContext.configure(conn, opts=options), metadata)
        assert diff == []
    finally:
        db.dispose()


def test_message_texts_move_to_their_own_table_and_back(database_url: str) -> None:
    with _from_revision(database_url, "0015_bg08_records") as db:  # the schema before the move
        with db.engine.begin() as conn:
            for message_id, body in (("msg_a", b"sealed text"), ("msg_b", None)):
                conn.execute(
                    text(
                        "INSERT INTO messages (id, account_id, direction, channel, sender_index,"
                        " recipient_index, body_enc, encoding, segments, status, purpose,"
                        " attempts, created_at, updated_at) VALUES (:id, 'acc_1', 'outbound',"
                        " 'sms', :i, :i, :body, 'gsm7', 1, 'delivered', 'transactional', 1,"
                        " :at, :at)"
                    ),
                    {"id": message_id, "i": b"index", "body": body, "at": datetime.now(UTC)},
                )
        upgrade(db)
        with db.engine.connect() as conn:
            moved = conn.execute(text("SELECT message_id, body_enc FROM message_bodies")).all()
            assert [(m, bytes(b)) for m, b in moved] == [("msg_a", b"sealed text")]
            assert conn.execute(text("SELECT count(*) FROM messages")).scalar_one() == 2
        downgrade(db, "0015_bg08_records")
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT id, body_enc FROM messages ORDER BY id")).all()
            assert [(m, b and bytes(b)) for m, b in back] == [
                ("msg_a", b"sealed text"),
                ("msg_b", None),
            ]


def test_sent_messages_with_a_validity_period_are_watched_once_upgraded(database_url: str) -> None:
    """Upgrading to the validity sweep's own worklist (0021) puts on it the messages that
    were `sent` with a validity period, and nothing else."""
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    ends = at + timedelta(minutes=5)
    watched, plain, delivered = new_ids("msg", at, 3)
    with _from_revision(database_url, "0020_lean_accept_indexes") as db:
        with db.engine.begin() as conn:
            conn.execute(
                insert(messages),
                [
                    message_row(watched, at, status="sent", expires_at=ends),
                    message_row(plain, at, status="sent", expires_at=None),
                    message_row(delivered, at, status="delivered", expires_at=ends),
                ],
            )
        upgrade(db)
        with db.engine.connect() as conn:
            rows = conn.execute(select(validity_watch)).all()
        assert [(m, to_utc(e)) for m, e in rows] == [(watched, ends)]
        downgrade(db, "0020_lean_accept_indexes")  # and back: the worklist is gone again
        with db.engine.connect() as conn:
            assert "validity_watch" not in inspect(conn).get_table_names()


def test_sent_messages_taken_whole_get_their_part_once_upgraded(database_url: str) -> None:
    """Upgrading to receipts found through parts (0022) gives each `sent` message with an
    operator's id and no part its one part, so its receipt still finds it."""
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    whole, split, delivered, queued = new_ids("msg", at, 4)
    ref = {"connector": "sim", "attempts": 1, "sent_at": at}
    with _from_revision(database_url, "0021_status_out_of_indexes") as db:
        with db.engine.begin() as conn:
            conn.execute(
                insert(messages),
                [
                    message_row(whole, at, status="sent", connector_message_id="w-1", **ref),
                    message_row(split, at, status="sent", connector_message_id="s-1", **ref),
                    message_row(delivered, at, status="delivered", connector_message_id="d", **ref),
                    message_row(
                        queued,
                        at,
                        connector=None,
                        connector_message_id=None,
                        attempts=1,
                        sent_at=None,
                    ),
                ],
            )
            replace_parts(
                conn,
                [
                    {
                        "message_id": split,
                        "part_number": n,
                        "connector": "sim",
                        "connector_message_id": f"s-{n}",
                        "status": "sent",
                        "error_code": None,
                        "submitted_at": at,
                        "done_at": None,
                    }
                    for n in (1, 2)
                ],
            )
        upgrade(db)
        with db.engine.connect() as conn:
            found = find_receipt_parts(conn, "sim", ["w-1", "s-1", "s-2", "d"])
            part = conn.execute(
                select(message_parts).where(message_parts.c.message_id == whole)
            ).one()
        assert found == {"w-1": (whole, 1, 1), "s-1": (split, 1, 2), "s-2": (split, 2, 2)}
        assert (part.status, to_utc(part.submitted_at), part.done_at) == ("sent", at, None)
        downgrade(db, "0021_status_out_of_indexes")  # and back: the messages' index again
        with db.engine.connect() as conn:
            names = [i["name"] for i in inspect(conn).get_indexes("messages")]
        assert "ix_messages_connector_ref" in names


def test_postgresql_reads_a_messages_events_through_their_key(database_url: str) -> None:
    """The events' key starts with the message id (0023): a message's history is read
    through it, in order, and no other index is written for each entry."""
    db = Database(database_url)
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            names = {i["name"] for i in inspect(conn).get_indexes("message_events")}
            if db.is_sqlite:
                assert "ix_message_events_message_id" in names
                return
            assert names == set()  # the primary key is not listed among the indexes
            key = inspect(conn).get_pk_constraint("message_events")
            assert key["constrained_columns"] == ["message_id", "id"]
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(
                str(row[0])
                for row in conn.exec_driver_sql(
                    "EXPLAIN SELECT * FROM message_events WHERE message_id = ANY(%s) ORDER BY id",
                    (["msg_a", "msg_b"],),
                )
            )
        # each partition's copy of the key is named after it: message_events_m202611_pkey
        assert "_pkey" in plan and "Index Cond: ((message_id)" in plan, plan
    finally:
        db.dispose()


def test_work_leased_before_the_upgrade_is_due_when_its_lease_ends(database_url: str) -> None:
    """0024: an item leased by the earlier claim (due time left in the past) is moved to the
    end of its lease, so the claim that reads `run_at` alone does not take it early."""
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    leased, free = new_ids("msg", at, 2)
    lease = at + timedelta(minutes=1)
    with _from_revision(database_url, "0023_event_key_by_message") as db:
        with db.engine.begin() as conn:
            conn.execute(
                insert(dispatch_queue),
                [
                    {
                        "message_id": leased,
                        "run_at": at,
                        "lease_until": lease,
                        "lease_owner": "old-worker",
                        "tried_connectors": "",
                    },
                    {
                        "message_id": free,
                        "run_at": at,
                        "lease_until": None,
                        "lease_owner": None,
                        "tried_connectors": "",
                    },
                ],
            )
        upgrade(db)
        with db.engine.begin() as conn:
            due = dict(
                conn.execute(
                    select(dispatch_queue.c.message_id, dispatch_queue.c.run_at).where(
                        dispatch_queue.c.message_id.in_([leased, free])
                    )
                ).all()
            )
            conn.execute(delete(dispatch_queue).where(dispatch_queue.c.message_id.in_(due)))
        assert {m: to_utc(t) for m, t in due.items()} == {leased: lease, free: at}
