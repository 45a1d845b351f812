"""SMPP server: caps over all credentials of one account

Revision ID: 0013_smpp_account_limits
Revises: 0009_retention_coverage
Create Date: 2026-11-22 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_smpp_account_limits"
down_revision = "0009_retention_coverage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smpp_account_limits",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("max_binds", sa.Integer(), nullable=False),
        sa.Column("max_tps", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_smpp_account_limits_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_smpp_account_limits")),
    )


def downgrade() -> None:
    op.drop_table("smpp_account_limits")
