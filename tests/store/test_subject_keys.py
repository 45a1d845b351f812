"""Message data is stored under the data subject's own key; the account's under its key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.support import Tenant, wait_until
from tidings.core.crypto import key_id_of
from tidings.runtime import Runtime
from tidings.store.messages import messages_with_body
from tidings.store.tables import data_keys, messages, webhook_deliveries

OWN_NUMBER = "+447911123456"


def _rows(runtime: Runtime, table: Any, **where: Any) -> list[Any]:
    with runtime.db.read() as conn:
        query = messages_with_body if table is messages else select(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return list(conn.execute(query))


def _keys(runtime: Runtime, account_id: str) -> dict[str, Any]:
    return {row.id: row for row in _rows(runtime, data_keys, account_id=account_id)}


def test_outbound_recipient_and_body_use_the_recipients_key(
    tenant: Tenant, runtime: Runtime
) -> None:
    batch = {"to": ["+31612345678", "+31612345679", "+31612345678"], "from": "Acme", "body": "Hi"}
    assert tenant.post("/v1/messages/batch", batch).status_code == 202
    keys = _keys(runtime, tenant.account_id)
    subject_keys = {k: row for k, row in keys.items() if row.scope == "subject"}
    account_keys = [k for k, row in keys.items() if row.scope == "account"]
    assert len(subject_keys) == 2  # one per distinct recipient, made in one go
    assert len(account_keys) == 1
    stored = _rows(runtime, messages, account_id=tenant.account_id)
    assert len(stored) == 3
    for row in stored:
        key = subject_keys[key_id_of(row.recipient_enc)]  # type: ignore[index]
        assert key_id_of(row.body_enc) == key.id
        assert bytes(key.subject_index) == bytes(row.recipient_index)
        assert key_id_of(row.sender_enc) == account_keys[0]
        assert row.region == "NL"
    # A later message to a known recipient reuses that recipient's key.
    again = tenant.post("/v1/messages", {"to": "+31612345679", "from": "Acme", "body": "Again"})
    assert again.status_code == 202
    assert len(_keys(runtime, tenant.account_id)) == 3
    assert tenant.get(f"/v1/messages/{again.json()['id']}").json()["body"] == "Again"


def test_inbound_sender_body_and_payload_use_the_senders_key(
    tenant: Tenant, runtime: Runtime
) -> None:
    assert tenant.put("/v1/account/webhook", {"url": "http://127.0.0.1:9/hook"}).status_code == 200
    assert tenant.post("/v1/numbers", {"number": OWN_NUMBER}).status_code == 201
    reply = {"from": "+31612345678", "to": OWN_NUMBER, "body": "STOP"}
    assert tenant.post("/v1/simulator/inbound", reply).status_code == 202

    def inbound() -> list[Any]:
        return [m for m in tenant.get("/v1/messages").json()["data"] if m["direction"] == "inbound"]

    message = wait_until(inbound, message="inbound stored")[0]
    assert message["from"] == "+31612345678" and message["body"] == "STOP"
    assert message["data_erased"] is False and message["region"] == "NL"
    row = _rows(runtime, messages, id=message["id"])[0]
    keys = _keys(runtime, tenant.account_id)
    subject = keys[key_id_of(row.sender_enc)]  # type: ignore[index]
    assert subject.scope == "subject" and bytes(subject.subject_index) == bytes(row.sender_index)
    assert key_id_of(row.body_enc) == subject.id
    assert keys[key_id_of(row.recipient_enc)].scope == "account"  # type: ignore[index]
    hook = _rows(runtime, webhook_deliveries, message_id=message["id"])[0]
    assert key_id_of(hook.payload_enc) == subject.id
