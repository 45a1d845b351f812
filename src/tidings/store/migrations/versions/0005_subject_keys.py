"""per-subject keys, erasure audit, anonymised messages (numbers nullable since 0004)

Revision ID: 0005_subject_keys
Revises: 0004_retention_holds
Create Date: 2026-11-22 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_subject_keys"
down_revision = "0004_retention_holds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_data_keys_account_id_subject_index", ["account_id", "subject_index"], unique=False
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_messages_account_id_sender_index", ["account_id", "sender_index"], unique=False
        )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_message_id", ["message_id"], unique=False)
    op.create_table(
        "erasures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("keys_destroyed", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("messages_deleted", sa.Integer(), nullable=False),
        sa.Column("work_canceled", sa.Integer(), nullable=False),
        sa.Column("webhooks_deleted", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasures_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasures_account_id"))
    op.drop_table("erasures")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_message_id")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_account_id_sender_index")
        batch_op.drop_column("anonymised_at")
        batch_op.drop_column("region")
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_data_keys_account_id_subject_index")
