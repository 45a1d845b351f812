"""legal holds and the retention sweep's runs and audit

Revision ID: 0004_retention_holds
Revises: 0001
Create Date: 2026-11-22 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_retention_holds"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("subject_index", sa.LargeBinary(), nullable=True),
        sa.Column("held_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("authority_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_legal_holds_account_id"), ["account_id"], unique=False)

    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_name", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_table(
        "retention_audit",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("data_set", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "run_id", "rule", "data_set", "action", name=op.f("pk_retention_audit")
        ),
    )
    # Pseudonymisation removes the numbers and keeps their keyed indexes.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("sender_enc", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.alter_column("recipient_enc", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("recipient_enc", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("sender_enc", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("retention_audit")
    op.drop_table("retention_runs")
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_legal_holds_account_id"))
    op.drop_table("legal_holds")
