from __future__ import annotations

from typing import Any

from tests.support import Tenant, wait_until


def status_of(tenant: Tenant, message_id: str) -> str:
    return str(tenant.get(f"/v1/messages/{message_id}").json()["status"])


def test_send_reaches_delivered_with_history(tenant: Tenant) -> None:
    response = tenant.post(
        "/v1/messages", {"to": "+31 6 1234 5678", "from": "Acme", "body": "Hello"}
    )
    assert response.status_code == 202
    message: dict[str, Any] = response.json()
    assert message["id"].startswith("msg_")
    assert message["to"] == "+31612345678"
    assert message["status"] == "queued"
    assert (message["encoding"], message["segments"]) == ("gsm7", 1)
    wait_until(lambda: status_of(tenant, message["id"]) == "delivered", message="delivered")
    final = tenant.get(f"/v1/messages/{message['id']}").json()
    assert [h["status"] for h in final["status_history"]] == [
        "queued",
        "sending",
        "sent",
        "delivered",
    ]
    assert final["sent_at"] is not None and final["delivered_at"] is not None
    assert set(message) == set(final), "the accepted resource and a read one have one shape"


def test_unicode_message_counts_ucs2_segments(tenant: Tenant) -> None:
    body = "Привет 👋 " * 10  # 100 UTF-16 units -> 2 segments of 67
    message = tenant.post(
        "/v1/messages", {"to": "+31612345678", "from": "Acme", "body": body}
    ).json()
    assert message["encoding"] == "ucs2"
    assert message["segments"] == 2
