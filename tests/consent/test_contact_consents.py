"""POST/GET /v1/contacts/{id}/consents: the ledger by contact, state derived, history kept."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_problem, expect_problems
from tests.consent.helpers import HANDSET, MARKETING, consents, own_number, text_in
from tests.support import Tenant
from tidings.runtime import Runtime

GRANT: dict[str, Any] = {
    "channel": "sms",
    "purpose": "marketing",
    "action": "granted",
    "basis": "consent",
    "source": "web_form",
    "evidence": {
        "notice": "Newsletter sign-up, notice v3: 'Send me offers by SMS' (unticked box)",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "at": "2026-02-27T10:00:00Z",
    },
}


def _contact(rt: Runtime, tenant: Tenant, number: str = HANDSET) -> str:
    contact_id: str = rt.contacts.create(tenant.account_id, {"number": number})["id"]
    return contact_id


def test_record_read_state_and_history(tenant: Tenant, runtime: Runtime) -> None:
    contact = _contact(runtime, tenant)
    path = f"/v1/contacts/{contact}/consents"
    created = tenant.post(path, GRANT)
    assert created.status_code == 201, created.text
    event = created.json()
    assert (event["contact_id"], event["occurred_at"]) == (contact, "2026-02-27T10:00:00Z")
    assert event["evidence"]["ip"] == "203.0.113.7"
    assert event["policy_version"] == "baseline@1"
    assert tenant.post("/v1/messages", MARKETING).status_code == 202
    withdrawn = {**GRANT, "action": "withdrawn", "source": "api", "evidence": None}
    assert tenant.post(path, withdrawn).status_code == 201
    read = tenant.get(path)
    assert read.status_code == 200, read.text
    body = read.json()
    (state,) = body["state"]
    assert (state["channel"], state["purpose"], state["status"], state["valid"]) == (
        "sms",
        "marketing",
        "withdrawn",
        False,
    )
    assert [e["action"] for e in body["history"]] == ["granted", "withdrawn"]
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "no_consent", "to")


def test_the_ledger_and_opt_out_outlive_the_contact(tenant: Tenant, runtime: Runtime) -> None:
    own_number(tenant)
    contact = _contact(runtime, tenant)
    assert tenant.post(f"/v1/contacts/{contact}/consents", GRANT).status_code == 201
    text_in(tenant, "STOP")
    runtime.contacts.delete(tenant.account_id, contact)
    assert_problem(tenant.get(f"/v1/contacts/{contact}/consents"), 404, "contact_not_found")
    kept = consents(runtime, tenant)
    assert kept["opted_out"] == ["sms"]
    assert [e["action"] for e in kept["history"]] == ["granted", "withdrawn"]
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")
    again = _contact(runtime, tenant)  # the same person added anew is still opted out
    assert tenant.get(f"/v1/contacts/{again}/consents").json()["opted_out"] == ["sms"]


def test_bad_consent_input_is_a_clear_4xx(tenant: Tenant, runtime: Runtime) -> None:
    contact = _contact(runtime, tenant)
    path = f"/v1/contacts/{contact}/consents"
    cases = [
        ("channel", {**GRANT, "channel": "email"}, 400, "invalid_consent", "channel"),
        ("purpose", {**GRANT, "purpose": "Big Sale"}, 400, "invalid_consent", "purpose"),
        ("action", {**GRANT, "action": "maybe"}, 400, "invalid_consent", "action"),
        ("basis", {**GRANT, "basis": "contract"}, 400, "invalid_consent", "basis"),
        ("source", {**GRANT, "source": "keyword"}, 400, "invalid_consent", "source"),
        ("ip", {**GRANT, "evidence": {"ip": "1.2.3"}}, 400, "invalid_consent", "evidence.ip"),
        (
            "future",
            {**GRANT, "evidence": {"at": "2030-01-01T00:00:00Z"}},
            400,
            "invalid_consent",
            "evidence.at",
        ),
        (
            "out of range",
            {**GRANT, "evidence": {"at": "0001-01-01T00:00:00+01:00"}},
            400,
            "invalid_consent",
            "evidence.at",
        ),
        ("missing", {"channel": "sms"}, 422, "validation_error", "purpose"),
        ("extra", {**GRANT, "color": "red"}, 422, "validation_error", "color"),
    ]
    expect_problems(lambda body: tenant.post(path, body), [(c[0], *c[1:]) for c in cases])
    assert tenant.get(path).json()["history"] == []
    for missing in ("con_01kjmma2g0enqsbvgjwfamz418", "nonsense"):
        assert_problem(tenant.get(f"/v1/contacts/{missing}/consents"), 404, "contact_not_found")
        assert_problem(
            tenant.post(f"/v1/contacts/{missing}/consents", GRANT), 404, "contact_not_found"
        )
