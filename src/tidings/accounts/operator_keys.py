"""The operator's own data key: encrypts what the operator keeps for itself (inquiries, the
register of authority requests), not any account's data, so closing or erasing an account
never makes it unreadable."""

from __future__ import annotations

from tidings.core.clock import Clock
from tidings.core.crypto import Crypto
from tidings.core.ids import new_id
from tidings.store import accounts as account_store
from tidings.store.database import Database

OPERATOR_KEYS = "operator"  # the data keys' owner for the operator's own encrypted data


def ensure_operator_key(db: Database, crypto: Crypto, clock: Clock) -> None:
    """Create the operator's data key on first use."""
    with db.write() as conn:
        if account_store.active_account_key_id(conn, OPERATOR_KEYS) is not None:
            return
        key_id = new_id("dk", clock.now())
        wrapped = crypto.new_wrapped_key(key_id)
        account_store.insert_data_key(
            conn, key_id=key_id, account_id=OPERATOR_KEYS, wrapped=wrapped, created_at=clock.now()
        )
        crypto.remember(OPERATOR_KEYS, key_id, wrapped)
