"""privacy registers: sub-processors, recipients, contacts, supervisory authority

Revision ID: 0006_registers
Revises: 0005_subject_keys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_registers"
down_revision = "0005_subject_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_subprocessors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("safeguard", sa.String(length=32), nullable=True),
        sa.Column("applies_to", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_subprocessors")),
    )
    op.create_table(
        "privacy_recipients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=True),
        sa.Column("region", sa.String(length=16), nullable=True),
        sa.Column("safeguard", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_recipients")),
    )
    op.create_table(
        "privacy_contacts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_contacts")),
    )
    op.create_table(
        "privacy_authority",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_authority")),
    )


def downgrade() -> None:
    op.drop_table("privacy_authority")
    op.drop_table("privacy_contacts")
    op.drop_table("privacy_recipients")
    op.drop_table("privacy_subprocessors")
