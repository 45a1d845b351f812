"""retention coverage: when an account user withdrew a marketing consent; API access log; inquiries

Revision ID: 0009_retention_coverage
Revises: 0008_consent
Create Date: 2026-11-22 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_retention_coverage"
down_revision = "0008_consent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_consent_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "api_access_log",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("ip_enc", sa.LargeBinary(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_access_log")),
    )
    with op.batch_alter_table("api_access_log", schema=None) as batch_op:
        batch_op.create_index("ix_api_access_log_account_id_id", ["account_id", "id"])
    op.create_table(
        "inquiries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("email_enc", sa.LargeBinary(), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("company_enc", sa.LargeBinary(), nullable=True),
        sa.Column("message_enc", sa.LargeBinary(), nullable=False),
        sa.Column("evidence_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inquiries")),
    )


def downgrade() -> None:
    op.drop_table("inquiries")
    with op.batch_alter_table("api_access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_api_access_log_account_id_id")
    op.drop_table("api_access_log")
    with op.batch_alter_table("user_consent_events", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_at")
