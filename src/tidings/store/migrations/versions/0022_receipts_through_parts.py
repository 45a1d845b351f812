"""Receipts find their message through its parts: the `sent` update stays in place

Revision ID: 0022_receipts_through_parts
Revises: 0021_status_out_of_indexes
Create Date: 2026-11-24 10:00:00.000000

A message becomes `sent` with the operator's id. While `ix_messages_connector_ref` named
that id, the update could not be a HOT update (PostgreSQL), so it wrote a new entry into
each of the table's indexes. The operator's id of every submit is in `message_parts`
already for a message sent in parts; now a message the peer took whole has one part as
well, and receipts look up parts only.

- The messages that are `sent` with an operator's id and no part get their part, so their
  receipts still find them. (Messages past `sent` are final: a receipt for one of them
  would change nothing.)
- `ix_messages_connector_ref` is dropped.
- PostgreSQL: `message_parts` leaves over half of each new page free. A part is updated by
  its receipt: with room in the page, the row stays in place, with no new index entry.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from tidings.store.partitions import FILLFACTOR

revision = "0022_receipts_through_parts"
down_revision = "0021_status_out_of_indexes"
branch_labels = None
depends_on = None

_HAS_REF = text("connector_message_id IS NOT NULL")
_REF_COLUMNS = ["connector_message_id", "connector"]


def upgrade() -> None:
    op.execute(
        "INSERT INTO message_parts (message_id, part_number, connector, connector_message_id,"
        " status, submitted_at)"
        " SELECT m.id, 1, m.connector, m.connector_message_id, 'sent', m.sent_at"
        " FROM messages m WHERE m.status = 'sent' AND m.connector IS NOT NULL"
        " AND m.connector_message_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM message_parts p WHERE p.message_id = m.id)"
    )
    op.drop_index("ix_messages_connector_ref", table_name="messages")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE message_parts SET (fillfactor = {FILLFACTOR['message_parts']})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE message_parts RESET (fillfactor)")
    op.create_index(
        "ix_messages_connector_ref",
        "messages",
        _REF_COLUMNS,
        sqlite_where=_HAS_REF,
        postgresql_where=_HAS_REF,
    )
