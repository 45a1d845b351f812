"""message parts, runtime connectors and routes

Revision ID: 0003_smpp_parts
Revises: 0002_smpp_server
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_smpp_parts"
down_revision = "0002_smpp_server"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_parts",
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("part_number", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("connector_message_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("message_id", "part_number", name=op.f("pk_message_parts")),
    )
    op.create_index(
        "ix_message_parts_connector_ref",
        "message_parts",
        ["connector", "connector_message_id"],
        unique=False,
    )
    op.create_table(
        "connector_configs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_connector_configs")),
    )
    op.create_table(
        "route_configs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_configs")),
    )


def downgrade() -> None:
    op.drop_table("route_configs")
    op.drop_table("connector_configs")
    op.drop_index("ix_message_parts_connector_ref", table_name="message_parts")
    op.drop_table("message_parts")
