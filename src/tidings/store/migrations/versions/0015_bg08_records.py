"""Statutory records: requests of courts and authorities, and monthly account statements

Revision ID: 0015_bg08_records
Revises: 0014_connector_reports
Create Date: 2026-11-22 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_bg08_records"
down_revision = "0014_connector_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authority_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=True),
        sa.Column("authority_enc", sa.LargeBinary(), nullable=False),
        sa.Column("reference_enc", sa.LargeBinary(), nullable=True),
        sa.Column("legal_basis_enc", sa.LargeBinary(), nullable=False),
        sa.Column("request_enc", sa.LargeBinary(), nullable=False),
        sa.Column("subject_enc", sa.LargeBinary(), nullable=True),
        sa.Column("subject_index", sa.LargeBinary(), nullable=True),
        sa.Column("disclosure_enc", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_requests")),
    )
    op.create_index(op.f("ix_authority_requests_account_id"), "authority_requests", ["account_id"])
    op.create_table(
        "account_statements",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("total", sa.Numeric(precision=18, scale=5), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_statements")),
        sa.UniqueConstraint(
            "account_id", "period", name=op.f("uq_account_statements_account_id_period")
        ),
    )
    op.create_index("ix_account_statements_period", "account_statements", ["period"])
    op.create_table(
        "account_statement_lines",
        sa.Column("statement_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=5), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=5), nullable=False),
        sa.PrimaryKeyConstraint(
            "statement_id", "channel", "direction", name=op.f("pk_account_statement_lines")
        ),
    )


def downgrade() -> None:
    op.drop_table("account_statement_lines")
    op.drop_index("ix_account_statements_period", table_name="account_statements")
    op.drop_table("account_statements")
    op.drop_index(op.f("ix_authority_requests_account_id"), table_name="authority_requests")
    op.drop_table("authority_requests")
