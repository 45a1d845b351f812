"""consent ledger, suppression list, consent settings, message purpose

Revision ID: 0008_consent
Revises: 0007_contacts
Create Date: 2026-11-22 17:40:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_consent"
down_revision = "0007_contacts"
branch_labels = None
depends_on = None


def _ledger_columns(subject: sa.Column[Any]) -> list[sa.Column[Any]]:
    return [
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        subject,
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("evidence_enc", sa.LargeBinary(), nullable=True),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "purpose",
                sa.String(length=64),
                nullable=False,
                server_default="transactional",
            )
        )
    op.create_table(
        "consent_events",
        *_ledger_columns(sa.Column("number_index", sa.LargeBinary(), nullable=False)),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("id", name=op.f("uq_consent_events_id")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_events_account_id_number_index", ["account_id", "number_index"]
        )
        batch_op.create_index(
            "ix_consent_events_account_id_contact_id", ["account_id", "contact_id"]
        )
    op.create_table(
        "suppressions",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("number_index", sa.LargeBinary(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "number_index", "channel", name=op.f("pk_suppressions")
        ),
    )
    op.create_table(
        "consent_settings",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("transactional", sa.String(length=8), nullable=False),
        sa.Column("confirm_by_reply", sa.Boolean(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_consent_settings")),
    )
    op.create_table(
        "user_consent_events",
        *_ledger_columns(sa.Column("user_id", sa.String(length=32), nullable=False)),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_user_consent_events")),
        sa.UniqueConstraint("id", name=op.f("uq_user_consent_events_id")),
    )
    with op.batch_alter_table("user_consent_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_consent_events_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("user_consent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_consent_events_user_id"))
    op.drop_table("user_consent_events")
    op.drop_table("consent_settings")
    op.drop_table("suppressions")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_account_id_contact_id")
        batch_op.drop_index("ix_consent_events_account_id_number_index")
    op.drop_table("consent_events")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("purpose")
