"""/v1/admin/privacy/authority-requests: the operator records requests of courts and
authorities and what was disclosed; accounts' keys are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import assert_problem, expect_problems
from tests.api.test_admin_holds import operator_headers
from tests.privacy.retention_support import count
from tests.support import Tenant
from tidings.runtime import Runtime

PATH = "/v1/admin/privacy/authority-requests"
BODY = {
    "authority": "Sofia District Court",
    "reference": "civil case 1234/2026",
    "legal_basis": "Art. 186 Civil Procedure Code",
    "requested": "Messages sent to +359888123456\nin February 2026",
    "subject": "+359888123456",
    "received": "2026-02-27",
}


def test_the_operator_records_lists_and_answers_a_request(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    ops = operator_headers(runtime, tenant)
    created = client.post(PATH, json={**BODY, "account_id": tenant.account_id}, headers=ops)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "open" and entry["requested"] == BODY["requested"]
    assert entry["account_id"] == tenant.account_id and entry["subject"] == BODY["subject"]
    listed = client.get(PATH, params={"account_id": tenant.account_id}, headers=ops).json()
    assert [e["id"] for e in listed["data"]] == [entry["id"]] and listed["next_cursor"] is None
    assert client.get(PATH, params={"account_id": "acc_other"}, headers=ops).json()["data"] == []
    assert client.get(f"{PATH}/{entry['id']}", headers=ops).json() == entry
    answer = {"disclosed": "12 delivery records\nno message text", "answered": "2026-03-01"}
    answered = client.post(f"{PATH}/{entry['id']}/answer", json=answer, headers=ops)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered" and answered.json()["answered"] == "2026-03-01"
    again = client.post(f"{PATH}/{entry['id']}/answer", json={"disclosed": "more"}, headers=ops)
    assert entry["id"] in assert_problem(again, 409, "request_answered")["detail"]
    assert (
        client.get(f"{PATH}/{entry['id']}", headers=ops).json()["disclosed"]
        == (answer["disclosed"])
    )


def test_bad_requests_name_the_field_and_write_nothing(
    client: TestClient, runtime: Runtime, tenant: Tenant
) -> None:
    ops = operator_headers(runtime, tenant)
    expect_problems(
        lambda body: client.post(PATH, json=body, headers=ops),
        [
            ("empty authority", {**BODY, "authority": " "}, 400, "invalid_authority", "authority"),
            ("no authority", {k: v for k, v in BODY.items() if k != "authority"}, 422,
             "validation_error", "authority"),
            ("empty legal basis", {**BODY, "legal_basis": ""}, 400, "invalid_legal_basis",
             "legal_basis"),
            ("empty request", {**BODY, "requested": ""}, 400, "invalid_requested", "requested"),
            ("bad subject", {**BODY, "subject": "12"}, 400, "invalid_subject", "subject"),
            ("bad day", {**BODY, "received": "27/02/2026"}, 422, "validation_error", "received"),
            ("future day", {**BODY, "received": "2099-01-01"}, 400, "invalid_received",
             "received"),
            ("control character", {**BODY, "authority": "Court\x00"}, 422, "validation_error",
             "authority"),
            ("unknown field", {**BODY, "urgent": True}, 422, "validation_error", "urgent"),
        ],
    )  # fmt: skip
    unknown = client.post(
        PATH, json={**BODY, "account_id": "acc_00000000000000000000000000"}, headers=ops
    )
    assert assert_problem(unknown, 404, "account_not_found")["field"] == "account_id"
    assert count(runtime, "authority_requests") == 0
    missing = f"{PATH}/arq_00000000000000000000000000"
    assert_problem(client.get(missing, headers=ops), 404, "authority_request_not_found")
    answer = client.post(f"{missing}/answer", json={"disclosed": "x"}, headers=ops)
    assert_problem(answer, 404, "authority_request_not_found")
    entry = client.post(PATH, json=BODY, headers=ops).json()
    empty = client.post(f"{PATH}/{entry['id']}/answer", json={"disclosed": ""}, headers=ops)
    assert_problem(empty, 400, "invalid_disclosed", "disclosed")
    assert client.get(f"{PATH}/{entry['id']}", headers=ops).json()["status"] == "open"
    assert_problem(client.get(PATH, params={"limit": 0}, headers=ops), 400, "invalid_limit")


def test_an_accounts_key_is_refused(client: TestClient, tenant: Tenant) -> None:
    assert_problem(tenant.post(PATH, BODY), 403, "insufficient_scope")
    assert_problem(tenant.get(PATH), 403, "insufficient_scope")
