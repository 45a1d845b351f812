"""Two index entries fewer for every message accepted

Revision ID: 0020_lean_accept_indexes
Revises: 0019_sent_expiry_index
Create Date: 2026-11-23 18:00:00.000000

- `ix_messages_connector_ref` holds only messages with an operator's id. A message gets one
  when it is sent; until then every accepted message added a NULL entry that no receipt
  lookup could ever use.
- `ix_data_keys_account_id` is dropped: `ix_data_keys_account_id_subject_index` starts with
  the account and serves every lookup by account alone. Each new subject's key wrote both.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0020_lean_accept_indexes"
down_revision = "0019_sent_expiry_index"
branch_labels = None
depends_on = None

_HAS_REF = text("connector_message_id IS NOT NULL")
_REF_COLUMNS = ["connector_message_id", "connector"]


def upgrade() -> None:
    op.drop_index("ix_messages_connector_ref", table_name="messages")
    op.create_index(
        "ix_messages_connector_ref",
        "messages",
        _REF_COLUMNS,
        sqlite_where=_HAS_REF,
        postgresql_where=_HAS_REF,
    )
    op.drop_index("ix_data_keys_account_id", table_name="data_keys")


def downgrade() -> None:
    op.create_index("ix_data_keys_account_id", "data_keys", ["account_id"])
    op.drop_index("ix_messages_connector_ref", table_name="messages")
    op.create_index("ix_messages_connector_ref", "messages", _REF_COLUMNS)
