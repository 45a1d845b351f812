"""Inquiries: a public form, stored encrypted, rate-limited per IP, read and deleted by the
operator only."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import assert_problem
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime
from tidings.store.tables import inquiries

FORM = {
    "name": "Jane Prospect",
    "email": "jane@prospect.example",
    "phone": "+359877000999",
    "company": "Prospect Ltd",
    "message": "How much for 10,000 SMS a month?",
}


def _operator(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    key = runtime.accounts.create_api_key(
        tenant.account_id, "ops", ["operator"], allow_operator=True
    )
    return {"Authorization": f"Bearer {key['api_key']}"}


def test_an_inquiry_is_stored_encrypted_and_the_operator_reads_and_deletes_it(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    sent = client.post("/public/inquiries", json=FORM, headers={"User-Agent": "form/1"})

    assert sent.status_code == 201, sent.text
    inquiry_id = sent.json()["id"]
    assert inquiry_id.startswith("inq_")
    with runtime.db.read() as conn:
        row = conn.execute(select(inquiries)).one()
    stored = b"".join(bytes(v) for v in row if isinstance(v, bytes | memoryview))
    assert b"Jane" not in stored and b"prospect.example" not in stored

    ops = _operator(runtime, tenant)
    listed = client.get("/v1/admin/inquiries", headers=ops).json()["data"]
    assert [i["id"] for i in listed] == [inquiry_id]
    one = client.get(f"/v1/admin/inquiries/{inquiry_id}", headers=ops).json()
    assert {k: one[k] for k in FORM} == FORM
    assert one["evidence"]["user_agent"] == "form/1" and one["evidence"]["ip"] == "testclient"
    assert one["evidence"]["notice"] == {
        "name": runtime.policy.name,
        "version": runtime.policy.version,
    }
    assert_problem(tenant.get("/v1/admin/inquiries"), 403, "insufficient_scope")

    assert client.delete(f"/v1/admin/inquiries/{inquiry_id}", headers=ops).status_code == 204
    assert client.get("/v1/admin/inquiries", headers=ops).json()["data"] == []
    gone = client.delete(f"/v1/admin/inquiries/{inquiry_id}", headers=ops)
    assert_problem(gone, 404, "inquiry_not_found")


def test_bad_input_names_the_field_and_writes_nothing(client: TestClient, runtime: Runtime) -> None:
    assert_problem(
        client.post("/public/inquiries", json={**FORM, "email": "nope"}),
        400,
        "invalid_email",
        "email",
    )
    missing = client.post("/public/inquiries", json={"name": "x", "email": "a@b.example"})
    assert missing.status_code in (400, 422) and "message" in missing.text
    extra = client.post("/public/inquiries", json={**FORM, "admin": True})
    assert extra.status_code in (400, 422)
    with runtime.db.read() as conn:
        assert conn.execute(select(inquiries)).first() is None


def test_the_form_is_rate_limited_per_address(client: TestClient, clock: ManualClock) -> None:
    for _ in range(5):
        assert client.post("/public/inquiries", json=FORM).status_code == 201
    limited = client.post("/public/inquiries", json=FORM)
    assert_problem(limited, 429, "rate_limited")
    clock.advance(timedelta(minutes=10))
    assert client.post("/public/inquiries", json=FORM).status_code == 201
