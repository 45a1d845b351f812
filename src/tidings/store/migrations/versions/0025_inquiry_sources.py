"""Inquiries remember where they came from, for the form's rate limit

Revision ID: 0025_inquiry_sources
Revises: 0024_lease_end_due
Create Date: 2026-11-24 12:00:00.000000

The public inquiry form allows a few inquiries per client address in a window. The count
was kept in each API process's memory: every process (and every restart) allowed as many
again. Each inquiry now carries a keyed blind index of its client address, and the count is
read from the table in the transaction that stores the inquiry. Earlier inquiries have none
and do not count.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_inquiry_sources"
down_revision = "0024_lease_end_due"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inquiries") as batch:
        batch.add_column(sa.Column("source_index", sa.LargeBinary(), nullable=True))
    op.create_index(
        "ix_inquiries_source_index_created_at", "inquiries", ["source_index", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_inquiries_source_index_created_at", table_name="inquiries")
    with op.batch_alter_table("inquiries") as batch:
        batch.drop_column("source_index")
