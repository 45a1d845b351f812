"""Message text in a narrow table of its own

Revision ID: 0016_message_bodies
Revises: 0015_bg08_records
Create Date: 2026-11-22 23:30:00.000000

Redacting a message's text was an UPDATE of the wide message row (a new row version and
new entries in its five indexes); with the text apart, redaction deletes a narrow row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_message_bodies"
down_revision = "0015_bg08_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_bodies",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("body_enc", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_bodies")),
    )
    op.execute(
        "INSERT INTO message_bodies (message_id, body_enc) "
        "SELECT id, body_enc FROM messages WHERE body_enc IS NOT NULL"
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("body_enc")


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_enc", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE messages SET body_enc = "
        "(SELECT b.body_enc FROM message_bodies b WHERE b.message_id = messages.id)"
    )
    op.drop_table("message_bodies")
