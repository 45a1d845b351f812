"""IN lists: the same rows whatever their length, and on SQLite a bounded number of
statement texts (each distinct text is a prepared statement the driver caches per
connection, hundreds of KB for a long list)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import not_, select

from tidings.store.bulk import driver_in, in_list, padded_list
from tidings.store.database import Database
from tidings.store.tables import webhook_deliveries

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_padded_list_repeats_the_last_value_up_to_a_power_of_two() -> None:
    assert padded_list([]) == []
    assert padded_list(["a"]) == ["a"]
    assert padded_list(["a", "b", "c"]) == ["a", "b", "c", "c"]
    assert padded_list(list(range(5))) == [0, 1, 2, 3, 4, 4, 4, 4]
    assert len(padded_list(list(range(4096)))) == 4096
    assert len(padded_list(list(range(4097)))) == 8192
    assert padded_list((b"x", b"y")) == [b"x", b"y"]


def test_in_and_not_in_find_the_same_rows_for_every_length(db: Database) -> None:
    ids = [f"whk_{n:026d}" for n in range(40)]
    with db.write() as conn:
        conn.execute(
            webhook_deliveries.insert(),
            [
                {
                    "id": i,
                    "account_id": "acc_1",
                    "event": "message.status",
                    "url": "https://example.com/hook",
                    "payload_enc": b"x",
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": NOW,
                    "created_at": NOW,
                }
                for i in ids
            ],
        )
    for length in (1, 2, 3, 5, 17, 33):
        wanted = ids[:length]
        with db.read() as conn:
            column = webhook_deliveries.c.id
            found = conn.execute(select(column).where(in_list(conn, column, wanted))).scalars()
            others = conn.execute(
                select(column).where(not_(in_list(conn, column, wanted)))
            ).scalars()
            test, params = driver_in(conn, wanted)
            driver = conn.exec_driver_sql(
                f"SELECT id FROM webhook_deliveries WHERE id {test}", tuple(params)
            ).scalars()
            assert sorted(found) == wanted == sorted(driver)
            assert sorted(others) == ids[length:]


def test_sqlite_prepares_one_statement_per_power_of_two(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/lists.db")
    try:
        seen: set[str] = set()
        with db.read() as conn:
            raw = conn.connection.dbapi_connection
            raw.set_trace_callback(seen.add)  # type: ignore[union-attr]
            for length in range(1, 301):
                values = [f"v{n}" for n in range(length)]
                test, params = driver_in(conn, values)
                conn.exec_driver_sql(f"SELECT 1 WHERE 'v0' {test}", tuple(params)).all()
            raw.set_trace_callback(None)  # type: ignore[union-attr]
        # The trace shows each statement with its values (which hold no commas) in place.
        lengths = {statement.count(",") + 1 for statement in seen}
        assert lengths == {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}
    finally:
        db.dispose()
