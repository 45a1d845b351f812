"""retention coverage: when an account user withdrew a marketing consent

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


def downgrade() -> None:
    with op.batch_alter_table("user_consent_events", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_at")
