"""Work in flight is due again when its lease ends

Revision ID: 0024_lease_end_due
Revises: 0023_event_key_by_message
Create Date: 2026-11-24 12:00:00.000000

A claim now moves a work item's `run_at` to the end of its lease (and renewing moves it
on), so that "due" is `run_at <= now` alone (store/messages.py `claim_due`). Items leased
before the upgrade get the same: their `run_at` moves to their lease's end.
"""

from __future__ import annotations

from alembic import op

revision = "0024_lease_end_due"
down_revision = "0023_event_key_by_message"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE dispatch_queue SET run_at = lease_until"
        " WHERE lease_until IS NOT NULL AND lease_until > run_at"
    )


def downgrade() -> None:
    """Nothing to undo: the earlier claim reads a lease and a due time of its own."""
