"""Connector states reported by worker nodes

Revision ID: 0014_connector_reports
Revises: 0013_smpp_account_limits
Create Date: 2026-11-22 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_connector_reports"
down_revision = "0013_smpp_account_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_reports",
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node", "connector", name=op.f("pk_connector_reports")),
    )


def downgrade() -> None:
    op.drop_table("connector_reports")
