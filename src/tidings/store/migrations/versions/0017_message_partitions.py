"""Messages, their texts and their events in monthly partitions (PostgreSQL)

Revision ID: 0017_message_partitions
Revises: 0016_message_bodies
Create Date: 2026-11-23 02:00:00.000000

A month of messages is a range of message ids (an id begins with its acceptance time).
Partitioned by that range, a month whose messages are all due for deletion is emptied
whole by the retention sweep, instead of ten million deletes written to the WAL one by
one. A partitioned table's primary key must hold the partition column, so the events'
key becomes (id, message_id); ids stay unique (one sequence). SQLite is left as it is.

The months made here are those of the stored messages and the next three; `serve` makes
later ones as time goes on (store/partitions.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from tidings.store.partitions import (
    MONTHS_AHEAD,
    PARTITIONED,
    Month,
    default_partition,
    ensure_months,
)

revision = "0017_message_partitions"
down_revision = "0016_message_bodies"
branch_labels = None
depends_on = None

_KEYS = {
    "messages": "pk_messages PRIMARY KEY (id)",
    "message_bodies": "pk_message_bodies PRIMARY KEY (message_id)",
    "message_events": "pk_message_events PRIMARY KEY (id, message_id)",
}
_PLAIN_KEYS = {**_KEYS, "message_events": "pk_message_events PRIMARY KEY (id)"}
_INDEXES = {
    "messages": [
        "ix_messages_account_id_id ON messages (account_id, id)",
        "ix_messages_account_id_recipient_index ON messages (account_id, recipient_index)",
        "ix_messages_account_id_sender_index ON messages (account_id, sender_index)",
        "ix_messages_account_id_status ON messages (account_id, status)",
        "ix_messages_connector_ref ON messages (connector, connector_message_id)",
    ],
    "message_bodies": [],
    "message_events": ["ix_message_events_message_id ON message_events (message_id)"],
}


def _replace(table: str, *, partitioned: bool) -> None:
    """Put a new `table` (partitioned by its message id, or plain) in place of the old,
    which is renamed `<table>_old` and keeps the rows until `_refill`."""
    old = f"{table}_old"
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_{table}")
    for index in _INDEXES[table]:
        op.execute(f"DROP INDEX {index.split(' ', 1)[0]}")
    scheme = f" PARTITION BY RANGE ({PARTITIONED[table]})" if partitioned else ""
    op.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS){scheme}"
    )
    if partitioned:
        op.execute(f"CREATE TABLE {default_partition(table)} PARTITION OF {table} DEFAULT")
    keys = _KEYS if partitioned else _PLAIN_KEYS
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {keys[table]}")
    for index in _INDEXES[table]:
        op.execute(f"CREATE INDEX {index}")


def _refill(table: str) -> None:
    old = f"{table}_old"
    op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    if table == "message_events":  # the id sequence goes with the new table
        op.execute("ALTER SEQUENCE message_events_id_seq OWNED BY message_events.id")
    op.execute(f"DROP TABLE {old} CASCADE")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    conn = op.get_bind()
    first = conn.execute(text("SELECT min(created_at) FROM messages")).scalar()
    now = Month.of(datetime.now(UTC))
    month = Month.of(first) if first is not None else now
    wanted = []
    while month <= now.plus(MONTHS_AHEAD):
        wanted.append(month)
        month = month.plus(1)
    for table in PARTITIONED:
        _replace(table, partitioned=True)
    ensure_months(conn, wanted)  # before the rows come, so each goes to its month at once
    for table in PARTITIONED:
        _refill(table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in PARTITIONED:
        _replace(table, partitioned=False)
        _refill(table)
