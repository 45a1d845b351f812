"""BSMS-04: one account can read, list, change or delete nothing of another account's.

Account B gets messages (delivered, scheduled, inbound), a number, an extra API key and dead
webhook deliveries. Then every route of the app under /v1 is called with account A's key,
substituting B's ids: each is 404 for B's ids (never 403, which would confirm they exist),
lists show none of B's data, and B's data is unchanged afterwards. A route without a case in
CASES fails the suite, so no endpoint can be added without its isolation case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import api_routes, assert_problem, later, message_ids, wait_for_status
from tests.api.receiver import Receiver
from tests.support import Tenant, wait_until
from tidings.billing.statements import StatementService
from tidings.core.clock import ManualClock
from tidings.core.config import BillingConfig
from tidings.runtime import Runtime

pytestmark = pytest.mark.promise("BSMS-04")

B_NUMBER = "+14155550100"
A_NUMBER = "+14155550111"
B_RECIPIENT = "+31612345678"
B_BODY = "Globex private: your loan is approved"
B_PAYLOAD = {"to": B_RECIPIENT, "from": "Globex", "body": B_BODY}
B_IDEMPOTENCY_KEY = "order-1"
B_CONTACT = {
    "number": "+31687654321",
    "first_name": "Bartholomew",
    "email": "bart@globex.example",
    "tags": ["globex-vip"],
    "fields": {"globex_tier": "gold"},
}
B_LIST = "Globex customers"
B_SECRET_LIST = "Globex secret list"
B_IMPORT = b"number,first_name\n+31687654322,Bernadette\nnot-a-number,Bogus\n"
B_OPTED_OUT = "+31612345670"  # opted out of B's messages
B_USER = ("b-user@globex.example", "globex password 1234")
A_USER = ("a-user@acme.example", "acme password 12345")
MY_MARKETING = "/v1/account/users/me/marketing"


@dataclass
class World:
    a: Tenant
    b: Tenant
    client: TestClient
    receiver: Receiver
    b_messages: dict[str, str] = field(default_factory=dict)  # kind -> id
    b_number_id: str = ""
    b_key_ids: list[str] = field(default_factory=list)
    b_extra_key: str = ""
    b_dead: list[str] = field(default_factory=list)
    b_secret: str = ""
    b_contact_id: str = ""
    b_list_id: str = ""
    b_field_id: str = ""
    a_contact_id: str = ""
    a_list_id: str = ""
    b_import_id: str = ""
    b_opt_out_token: str = ""
    b_consent_contact_id: str = ""
    b_user_id: str = ""
    a_user_id: str = ""
    b_statement_id: str = ""

    @property
    def b_message_ids(self) -> set[str]:
        return set(self.b_messages.values())


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _failure_ids(tenant: Tenant, **params: Any) -> list[str]:
    page = _ok(tenant.get("/v1/webhooks/failures", params=params))
    return [f["id"] for f in page["data"]]


def _snapshot(b: Tenant, contact_id: str) -> dict[str, Any]:
    return {
        "messages": _ok(b.get("/v1/messages", params={"limit": 500})),
        "numbers": _ok(b.get("/v1/numbers")),
        "api_keys": _ok(b.get("/v1/api-keys")),
        "account": _ok(b.get("/v1/account")),
        "webhook": _ok(b.get("/v1/account/webhook")),
        "failures": _ok(b.get("/v1/webhooks/failures")),
        "contacts": _ok(b.get("/v1/contacts", params={"limit": 500})),
        "lists": _ok(b.get("/v1/lists")),
        "fields": _ok(b.get("/v1/contact-fields")),
        "imports": _ok(b.get("/v1/contacts/imports")),
        "import_errors": [
            b.get(f"/v1/contacts/imports/{job['id']}/errors.csv").text
            for job in _ok(b.get("/v1/contacts/imports"))["data"]
        ],
        "keywords": _ok(b.get("/v1/account/keywords")),
        "opt_out_policy": _ok(b.get("/v1/account/opt-out")),
        "consents": _ok(b.get(f"/v1/contacts/{contact_id}/consents")),
        "statements": _ok(b.get("/v1/account/statements")),
    }


@pytest.fixture
def world(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    clock: ManualClock,
    runtime: Runtime,
) -> Iterator[World]:
    a, b = tenant, other_tenant
    with Receiver() as receiver:
        receiver.status = 500  # every delivery fails, to be dead-lettered
        w = World(a=a, b=b, client=client, receiver=receiver)
        _ok(b.put("/v1/account/webhook", {"url": receiver.url}))
        w.b_number_id = _ok(b.post("/v1/numbers", {"number": B_NUMBER}), 201)["id"]
        _ok(a.post("/v1/numbers", {"number": A_NUMBER}), 201)
        sent = b.post("/v1/messages", B_PAYLOAD, headers={"Idempotency-Key": B_IDEMPOTENCY_KEY})
        w.b_messages["delivered"] = _ok(sent, 202)["id"]
        a_sent = a.post("/v1/messages", {**B_PAYLOAD, "status_callback": receiver.url})
        a_message = _ok(a_sent, 202)["id"]
        inbound = {"from": "+31611111111", "to": B_NUMBER, "body": B_BODY}
        _ok(b.post("/v1/simulator/inbound", inbound), 202)
        wait_for_status(b, w.b_messages["delivered"], "delivered")
        wait_for_status(a, a_message, "delivered")
        (w.b_messages["inbound"],) = wait_until(lambda: message_ids(b, status="received"))
        wait_until(lambda: len(receiver.requests) >= 5, message="first webhook attempts")
        clock.advance(timedelta(hours=25))
        w.b_dead = wait_until(
            lambda: (ids := _failure_ids(b)) and len(ids) == 3 and ids,
            message="B's three dead deliveries",
        )
        wait_until(lambda: len(_failure_ids(a)) == 2, message="A's two dead deliveries")
        scheduled = b.post("/v1/messages", {**B_PAYLOAD, "send_at": later(clock, days=30)})
        w.b_messages["scheduled"] = _ok(scheduled, 202)["id"]
        _ok(a.post("/v1/messages", {**B_PAYLOAD, "send_at": later(clock, days=30)}), 202)
        extra = _ok(b.post("/v1/api-keys", {"name": "b-extra"}), 201)
        w.b_extra_key = extra["api_key"]
        w.b_key_ids = [k["id"] for k in _ok(b.get("/v1/api-keys"))["data"]]
        assert len(w.b_key_ids) == 2
        w.b_secret = _ok(b.get("/v1/account/webhook"))["secret"]
        _add_contacts(w)
        # B's consent world: its own keywords and policy, and a number opted out of B
        b_words = {"languages": {"nl": {"opt_out": ["AFMELDEN"], "opt_in": ["AANMELDEN"]}}}
        _ok(b.put("/v1/account/keywords", b_words))
        _ok(b.put("/v1/account/opt-out", {"transactional": "refuse", "confirm_by_reply": True}))
        link = _ok(b.post("/v1/opt-out-links", {"to": B_OPTED_OUT}), 201)
        w.b_opt_out_token = link["token"]
        assert client.post(f"/o/{w.b_opt_out_token}").status_code == 200
        to_opted = {**B_PAYLOAD, "to": B_OPTED_OUT}
        assert_problem(b.post("/v1/messages", to_opted), 422, "opted_out", "to")
        w.b_consent_contact_id = runtime.contacts.create(b.account_id, {"number": B_RECIPIENT})[
            "id"
        ]
        grant = {"channel": "all", "purpose": "marketing", "action": "granted", "basis": "consent"}
        _ok(b.post(f"/v1/contacts/{w.b_consent_contact_id}/consents", grant), 201)
        w.b_user_id = runtime.accounts.create_user(b.account_id, B_USER[0], B_USER[1])["id"]
        w.a_user_id = runtime.accounts.create_user(a.account_id, A_USER[0], A_USER[1])["id"]
        _ok(client.put(MY_MARKETING, json={"opt_in": True}, auth=B_USER))
        # B's statement for March, issued on a clock of its own (the world's stays put)
        issuer = StatementService(
            runtime.db, ManualClock(clock.now() + timedelta(days=40)), BillingConfig()
        )
        (w.b_statement_id,) = issuer.issue("2026-03", b.account_id).issued
        yield w


def _add_contacts(w: World) -> None:
    """B's phonebook: a custom field, a tagged contact in a list. A has a contact and list."""
    field = {"key": "globex_tier", "type": "enum", "options": ["gold", "silver"]}
    w.b_field_id = _ok(w.b.post("/v1/contact-fields", field), 201)["id"]
    w.b_contact_id = _ok(w.b.post("/v1/contacts", B_CONTACT), 201)["id"]
    w.b_list_id = _ok(w.b.post("/v1/lists", {"name": B_LIST}), 201)["id"]
    _ok(w.b.post(f"/v1/lists/{w.b_list_id}/members", {"contact_ids": [w.b_contact_id]}))
    _ok(w.b.post("/v1/lists", {"name": B_SECRET_LIST}), 201)
    files = {"file": ("globex.csv", B_IMPORT, "text/csv")}
    response = w.client.post("/v1/contacts/imports", files=files, headers=w.b.headers)
    w.b_import_id = _ok(response, 202)["id"]
    wait_until(
        lambda: _ok(w.b.get(f"/v1/contacts/imports/{w.b_import_id}"))["state"] == "completed",
        message="B's import",
    )
    w.a_contact_id = _ok(w.a.post("/v1/contacts", {"number": "+31611112222"}), 201)["id"]
    w.a_list_id = _ok(w.a.post("/v1/lists", {"name": "A customers"}), 201)["id"]


# --- one case per route: A's key, B's ids -----------------------------------------------------


def send_with_bs_idempotency_key(w: World) -> None:
    response = w.a.post("/v1/messages", B_PAYLOAD, headers={"Idempotency-Key": B_IDEMPOTENCY_KEY})
    created = _ok(response, 202)  # a new message: not a replay of B's
    assert "idempotent-replayed" not in response.headers
    assert created["id"] not in w.b_message_ids
    assert created["account_id"] == w.a.account_id
    assert_problem(w.b.get(f"/v1/messages/{created['id']}"), 404, "message_not_found")


def send_batch(w: World) -> None:
    result = _ok(w.a.post("/v1/messages/batch", {"messages": [B_PAYLOAD]}), 202)
    (item,) = result["messages"]
    assert _ok(w.a.get(f"/v1/messages/{item['id']}"))["account_id"] == w.a.account_id
    assert_problem(w.b.get(f"/v1/messages/{item['id']}"), 404, "message_not_found")


def get_message(w: World) -> None:
    for message_id in w.b_message_ids:
        assert_problem(w.a.get(f"/v1/messages/{message_id}"), 404, "message_not_found")


def list_messages(w: World) -> None:
    b_cursor = _ok(w.b.get("/v1/messages", params={"limit": 1}))["next_cursor"]
    assert b_cursor is not None
    queries: list[dict[str, Any]] = [
        {},
        {"status": "delivered"},
        {"status": "scheduled"},
        {"status": "received"},
        {"to": B_RECIPIENT},
        {"cursor": b_cursor},
    ]
    for params in queries:
        response = w.a.get("/v1/messages", params={"limit": 500, **params})
        page = _ok(response)
        ids = {m["id"] for m in page["data"]}
        assert not ids & w.b_message_ids, params
        assert all(m["account_id"] == w.a.account_id for m in page["data"]), params
        assert w.b.account_id not in response.text, params
    assert len(message_ids(w.a)) >= 2  # A does see its own messages
    assert message_ids(w.a, status="received") == []


def cancel_message(w: World) -> None:
    for message_id in w.b_message_ids:
        assert_problem(w.a.delete(f"/v1/messages/{message_id}"), 404, "message_not_found")


def add_number(w: World) -> None:
    assert_problem(w.a.post("/v1/numbers", {"number": B_NUMBER}), 409, "number_taken")


def list_numbers(w: World) -> None:
    response = w.a.get("/v1/numbers")
    numbers = _ok(response)["data"]
    assert [n["number"] for n in numbers] == [A_NUMBER]
    assert w.b_number_id not in response.text and B_NUMBER not in response.text


def delete_number(w: World) -> None:
    assert_problem(w.a.delete(f"/v1/numbers/{w.b_number_id}"), 404, "number_not_found")


def get_account(w: World) -> None:
    response = w.a.get("/v1/account")
    assert _ok(response)["id"] == w.a.account_id
    assert w.b.account_id not in response.text


def get_webhook(w: World) -> None:
    mine = _ok(w.a.get("/v1/account/webhook"))
    assert mine["secret"] != w.b_secret
    assert mine["url"] != w.receiver.url


def put_webhook(w: World) -> None:
    assert _ok(w.a.put("/v1/account/webhook", {"url": "https://a.invalid/hooks"}))["secret"] != (
        w.b_secret
    )
    _ok(w.a.put("/v1/account/webhook", {"url": None}))


def list_api_keys(w: World) -> None:
    keys = _ok(w.a.get("/v1/api-keys"))["data"]
    assert keys and not {k["id"] for k in keys} & set(w.b_key_ids)


def create_api_key(w: World) -> None:
    created = _ok(w.a.post("/v1/api-keys", {"name": "a-extra"}), 201)
    assert created["account_id"] == w.a.account_id
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert _ok(w.client.get("/v1/account", headers=headers))["id"] == w.a.account_id
    assert _ok(w.client.get("/v1/messages", headers=headers))["data"]  # A's, not empty
    assert not set(message_ids(w.a)) & w.b_message_ids


def revoke_api_key(w: World) -> None:
    for key_id in w.b_key_ids:
        assert_problem(w.a.delete(f"/v1/api-keys/{key_id}"), 404, "api_key_not_found")


def list_webhook_failures(w: World) -> None:
    b_cursor = _ok(w.b.get("/v1/webhooks/failures", params={"limit": 1}))["next_cursor"]
    mine = _failure_ids(w.a)
    assert len(mine) == 2 and not set(mine) & set(w.b_dead)
    assert not set(_failure_ids(w.a, cursor=b_cursor)) & set(w.b_dead)


def replay_webhook(w: World) -> None:
    for delivery_id in w.b_dead:
        path = f"/v1/webhooks/failures/{delivery_id}/replay"
        assert_problem(w.a.post(path), 404, "delivery_not_found")


def simulate_inbound(w: World) -> None:
    inbound = {"from": "+31622222222", "to": B_NUMBER, "body": "for B"}
    assert_problem(w.a.post("/v1/simulator/inbound", inbound), 404, "number_not_found")


def erase_subject(w: World) -> None:
    body = {"account_id": w.b.account_id, "subject": B_RECIPIENT}
    assert_problem(w.a.post("/v1/admin/privacy/erasures", body), 403, "insufficient_scope")
    whole = {"account_id": w.b.account_id, "whole_account": True}
    assert_problem(w.a.post("/v1/admin/privacy/erasures", whole), 403, "insufficient_scope")


def list_erasures(w: World) -> None:
    response = w.a.get("/v1/admin/privacy/erasures", params={"account_id": w.b.account_id})
    assert_problem(response, 403, "insufficient_scope")


def redact_text(w: World) -> None:
    result = _ok(w.a.post("/v1/privacy/redact", {"text": f"to {B_RECIPIENT}"}))
    assert result["text"] == "to [phone]"  # works on the text given, reads no stored data


def message_statistics(w: World) -> None:
    response = w.a.get("/v1/stats/messages", params={"group_by": "channel"})
    counted = sum(g["messages"] for g in _ok(response)["groups"])
    assert counted <= len(message_ids(w.a))  # A's own messages at most, never B's
    assert w.b.account_id not in response.text and B_RECIPIENT not in response.text


def operator_only(method: str, path: str) -> Callable[[World], None]:
    """Deployment-wide operator routes: an account's key (even its admin) is refused, the
    same for B's ids as for none, so nothing of B is revealed or changed."""

    def case(w: World) -> None:
        concrete = re.sub(r"\{\w+\}", "spr_0000000000000000000000000", path)
        body = {"account_id": w.b.account_id, "reason": "r", "authority": "a"}
        response = w.client.request(
            method, concrete, headers=w.a.headers, json=body if method in ("POST", "PUT") else None
        )
        assert_problem(response, 403, "insufficient_scope")

    return case


OPERATOR_ROUTES = [
    ("GET", "/v1/admin/privacy/settings"),
    ("GET", "/v1/admin/privacy/subprocessors"),
    ("POST", "/v1/admin/privacy/subprocessors"),
    ("DELETE", "/v1/admin/privacy/subprocessors/{entry_id}"),
    ("GET", "/v1/admin/privacy/recipients"),
    ("POST", "/v1/admin/privacy/recipients"),
    ("DELETE", "/v1/admin/privacy/recipients/{entry_id}"),
    ("GET", "/v1/admin/privacy/contacts"),
    ("POST", "/v1/admin/privacy/contacts"),
    ("DELETE", "/v1/admin/privacy/contacts/{entry_id}"),
    ("GET", "/v1/admin/privacy/authority"),
    ("PUT", "/v1/admin/privacy/authority"),
    ("DELETE", "/v1/admin/privacy/authority"),
    ("GET", "/v1/admin/holds"),
    ("POST", "/v1/admin/holds"),
    ("GET", "/v1/admin/holds/{hold_id}"),
    ("POST", "/v1/admin/holds/{hold_id}/release"),
    ("GET", "/v1/admin/retention/log"),
    ("GET", "/v1/admin/privacy/ropa"),
    ("GET", "/v1/admin/privacy/data-map"),
    ("POST", "/v1/admin/accounts/{account_id}/close"),
    ("GET", "/v1/admin/access-log"),
    ("GET", "/v1/admin/inquiries"),
    ("GET", "/v1/admin/inquiries/{inquiry_id}"),
    ("DELETE", "/v1/admin/inquiries/{inquiry_id}"),
    ("GET", "/v1/admin/privacy/authority-requests"),
    ("POST", "/v1/admin/privacy/authority-requests"),
    ("GET", "/v1/admin/privacy/authority-requests/{request_id}"),
    ("POST", "/v1/admin/privacy/authority-requests/{request_id}/answer"),
]


def get_access_log(w: World) -> None:
    w.b.get("/v1/numbers")
    page = _ok(w.a.get("/v1/account/access-log", params={"limit": 500}))
    assert page["data"] and {e["account_id"] for e in page["data"]} == {w.a.account_id}


def list_statements(w: World) -> None:
    response = w.a.get("/v1/account/statements", params={"period": "2026-03"})
    assert _ok(response)["data"] == []  # A was not billed for B's month
    assert w.b_statement_id not in response.text and w.b.account_id not in response.text


def get_statement(w: World) -> None:
    response = w.a.get(f"/v1/account/statements/{w.b_statement_id}")
    assert_problem(response, 404, "statement_not_found")


def get_keywords(w: World) -> None:
    response = w.a.get("/v1/account/keywords")
    assert _ok(response)["custom"] is False and "AFMELDEN" not in response.text


def put_keywords(w: World) -> None:
    mine = {"languages": {"en": {"opt_out": ["STOP"], "opt_in": ["START"]}}}
    assert "AFMELDEN" not in w.a.put("/v1/account/keywords", mine).text
    _ok(w.a.put("/v1/account/keywords", {"languages": None}))


def get_opt_out_policy(w: World) -> None:
    assert _ok(w.a.get("/v1/account/opt-out")) == {
        "transactional": "allow",
        "confirm_by_reply": False,
    }


def put_opt_out_policy(w: World) -> None:
    _ok(w.a.put("/v1/account/opt-out", {"transactional": "allow"}))


def create_opt_out_link(w: World) -> None:
    """A's link for the same number is another token, and B's opt-out does not reach A:
    A may still send marketing... once A has consent of its own, and transactional now."""
    mine = _ok(w.a.post("/v1/opt-out-links", {"to": B_OPTED_OUT}), 201)["token"]
    assert mine != w.b_opt_out_token
    to_opted = {**B_PAYLOAD, "to": B_OPTED_OUT}
    assert _ok(w.a.post("/v1/messages", to_opted), 202)["account_id"] == w.a.account_id
    marketing = {**to_opted, "purpose": "marketing"}
    # no_consent, not opted_out: nothing of B's suppression list is visible to A
    assert_problem(w.a.post("/v1/messages", marketing), 422, "no_consent", "to")


def record_consent(w: World) -> None:
    """B's contact is 404 to A; A's consent for the same number stays in A's ledger."""
    grant = {"channel": "all", "purpose": "marketing", "action": "granted", "basis": "consent"}
    path = f"/v1/contacts/{w.b_consent_contact_id}/consents"
    assert_problem(w.a.post(path, grant), 404, "contact_not_found")
    withdraw = {**grant, "action": "withdrawn"}
    assert_problem(w.a.post(path, withdraw), 404, "contact_not_found")
    # B's consent for B_RECIPIENT gives A no basis to market to that number
    marketing = {**B_PAYLOAD, "purpose": "marketing"}
    assert_problem(w.a.post("/v1/messages", marketing), 422, "no_consent", "to")


def get_consents(w: World) -> None:
    response = w.a.get(f"/v1/contacts/{w.b_consent_contact_id}/consents")
    assert_problem(response, 404, "contact_not_found")
    assert "granted" not in response.text


def _b_marketing(w: World) -> Any:
    return _ok(w.client.get(MY_MARKETING, auth=B_USER))


def get_my_marketing(w: World) -> None:
    """A's key is no person; A's user sees only itself."""
    assert_problem(w.a.get(MY_MARKETING), 401, "missing_credentials")
    response = w.client.get(MY_MARKETING, auth=A_USER)
    mine = _ok(response)
    assert mine["user_id"] == w.a_user_id and mine["history"] == []
    assert w.b_user_id not in response.text
    wrong = (B_USER[0], A_USER[1])  # B's email with A's password
    assert_problem(w.client.get(MY_MARKETING, auth=wrong), 401, "invalid_credentials")


def put_my_marketing(w: World) -> None:
    before = _b_marketing(w)
    assert_problem(w.a.put(MY_MARKETING, {"opt_in": False}), 401, "missing_credentials")
    mine = _ok(w.client.put(MY_MARKETING, json={"opt_in": False}, auth=A_USER))
    assert mine["user_id"] == w.a_user_id
    assert _b_marketing(w) == before and before["opted_in"] is True


def marketing_audience(w: World) -> None:
    response = w.a.get("/v1/admin/marketing/audience")
    assert_problem(response, 403, "insufficient_scope")
    assert B_USER[0] not in response.text


def _a_contact_ids(w: World, **params: Any) -> set[str]:
    response = w.a.get("/v1/contacts", params={"limit": 500, **params})
    page = _ok(response)
    assert w.b.account_id not in response.text and B_CONTACT["first_name"] not in response.text
    return {c["id"] for c in page["data"]}


def create_import(w: World) -> None:
    files = {"file": ("a.csv", b"number\n+31687654322\n", "text/csv")}
    into_b_list = w.client.post(
        "/v1/contacts/imports", files=files, params={"list": B_SECRET_LIST}, headers=w.a.headers
    )
    assert_problem(into_b_list, 404, "list_not_found")
    response = w.client.post("/v1/contacts/imports", files=files, headers=w.a.headers)
    job = _ok(response, 202)
    done = wait_until(
        lambda: (
            (j := _ok(w.a.get(f"/v1/contacts/imports/{job['id']}")))["state"] == "completed" and j
        ),
        message="A's import",
    )
    assert done["rows"] == {"created": 1, "updated": 0, "failed": 0}  # B's number: A's own
    assert_problem(w.b.get(f"/v1/contacts/imports/{job['id']}"), 404, "import_not_found")


def list_imports(w: World) -> None:
    response = w.a.get("/v1/contacts/imports")
    assert w.b_import_id not in {j["id"] for j in _ok(response)["data"]}
    assert w.b_import_id not in response.text and "globex.csv" not in response.text


def get_import(w: World) -> None:
    assert_problem(w.a.get(f"/v1/contacts/imports/{w.b_import_id}"), 404, "import_not_found")


def import_errors(w: World) -> None:
    path = f"/v1/contacts/imports/{w.b_import_id}/errors.csv"
    assert_problem(w.a.get(path), 404, "import_not_found")


def export_contacts(w: World) -> None:
    for fmt in ("csv", "json", "jsonl"):
        response = w.a.get("/v1/contacts/export", params={"format": fmt})
        assert response.status_code == 200, response.text
        for secret in (w.b_contact_id, B_CONTACT["number"], "Bartholomew", "Bernadette"):
            assert secret not in response.text, (fmt, secret)
    by_list = w.a.get("/v1/contacts/export", params={"list": w.b_list_id})
    assert_problem(by_list, 404, "list_not_found")
    by_number = w.a.get("/v1/contacts/export", params={"number": B_CONTACT["number"]})
    assert w.b_contact_id not in by_number.text


def create_contact(w: World) -> None:
    created = _ok(w.a.post("/v1/contacts", {"number": "+31687654399"}), 201)
    assert created["id"] != w.b_contact_id
    assert_problem(w.b.get(f"/v1/contacts/{created['id']}"), 404, "contact_not_found")


def list_contacts(w: World) -> None:
    b_cursor = _ok(w.b.get("/v1/contacts", params={"limit": 1}))["next_cursor"]
    assert w.b_contact_id not in _a_contact_ids(w)
    for params in (
        {"number": B_CONTACT["number"]},
        {"email": B_CONTACT["email"]},
        {"tag": "globex-vip"},
        {"region": "NL"},
        {"cursor": b_cursor} if b_cursor else {},
    ):
        assert w.b_contact_id not in _a_contact_ids(w, **params), params
    assert_problem(w.a.get("/v1/contacts", params={"list": w.b_list_id}), 404, "list_not_found")
    unknown = w.a.get("/v1/contacts", params={"field": "globex_tier:gold"})
    assert_problem(unknown, 400, "unknown_field")
    assert w.a_contact_id in _a_contact_ids(w)  # A does see its own


def get_contact(w: World) -> None:
    assert_problem(w.a.get(f"/v1/contacts/{w.b_contact_id}"), 404, "contact_not_found")


def update_contact(w: World) -> None:
    response = w.a.client.patch(
        f"/v1/contacts/{w.b_contact_id}", json={"first_name": "Mallory"}, headers=w.a.headers
    )
    assert_problem(response, 404, "contact_not_found")


def delete_contact(w: World) -> None:
    assert_problem(w.a.delete(f"/v1/contacts/{w.b_contact_id}"), 404, "contact_not_found")


def create_list(w: World) -> None:
    created = _ok(w.a.post("/v1/lists", {"name": B_LIST}), 201)  # names are per account
    assert created["id"] != w.b_list_id and created["members"] == 0


def list_lists(w: World) -> None:
    response = w.a.get("/v1/lists")
    assert w.b_list_id not in {x["id"] for x in _ok(response)["data"]}
    assert w.b_list_id not in response.text


def get_list(w: World) -> None:
    assert_problem(w.a.get(f"/v1/lists/{w.b_list_id}"), 404, "list_not_found")


def rename_list(w: World) -> None:
    response = w.a.client.patch(
        f"/v1/lists/{w.b_list_id}", json={"name": "Mine now"}, headers=w.a.headers
    )
    assert_problem(response, 404, "list_not_found")


def delete_list(w: World) -> None:
    assert_problem(w.a.delete(f"/v1/lists/{w.b_list_id}"), 404, "list_not_found")


def add_members(w: World) -> None:
    into_b = w.a.post(f"/v1/lists/{w.b_list_id}/members", {"contact_ids": [w.a_contact_id]})
    assert_problem(into_b, 404, "list_not_found")
    b_into_a = w.a.post(f"/v1/lists/{w.a_list_id}/members", {"contact_ids": [w.b_contact_id]})
    assert_problem(b_into_a, 404, "contact_not_found")


def remove_member(w: World) -> None:
    path = f"/v1/lists/{w.b_list_id}/members/{w.b_contact_id}"
    assert_problem(w.a.delete(path), 404, "list_not_found")
    path = f"/v1/lists/{w.a_list_id}/members/{w.b_contact_id}"
    assert _ok(w.a.delete(path))["removed"] == 0


def create_field(w: World) -> None:
    field = {"key": "globex_tier", "type": "string"}  # keys are per account
    assert _ok(w.a.post("/v1/contact-fields", field), 201)["id"] != w.b_field_id


def list_fields(w: World) -> None:
    ids = {f["id"] for f in _ok(w.a.get("/v1/contact-fields"))["data"]}
    assert w.b_field_id not in ids


def delete_field(w: World) -> None:
    assert_problem(w.a.delete(f"/v1/contact-fields/{w.b_field_id}"), 404, "field_not_found")


CASES: dict[tuple[str, str], Callable[[World], None]] = {
    ("POST", "/v1/messages"): send_with_bs_idempotency_key,
    ("POST", "/v1/messages/batch"): send_batch,
    ("GET", "/v1/messages/{message_id}"): get_message,
    ("GET", "/v1/messages"): list_messages,
    ("DELETE", "/v1/messages/{message_id}"): cancel_message,
    ("POST", "/v1/numbers"): add_number,
    ("GET", "/v1/numbers"): list_numbers,
    ("DELETE", "/v1/numbers/{number_id}"): delete_number,
    ("GET", "/v1/account"): get_account,
    ("GET", "/v1/account/webhook"): get_webhook,
    ("PUT", "/v1/account/webhook"): put_webhook,
    ("GET", "/v1/api-keys"): list_api_keys,
    ("POST", "/v1/api-keys"): create_api_key,
    ("DELETE", "/v1/api-keys/{key_id}"): revoke_api_key,
    ("GET", "/v1/webhooks/failures"): list_webhook_failures,
    ("POST", "/v1/webhooks/failures/{delivery_id}/replay"): replay_webhook,
    ("POST", "/v1/simulator/inbound"): simulate_inbound,
    **{route: operator_only(*route) for route in OPERATOR_ROUTES},
    ("GET", "/v1/account/keywords"): get_keywords,
    ("GET", "/v1/account/access-log"): get_access_log,
    ("GET", "/v1/account/statements"): list_statements,
    ("GET", "/v1/account/statements/{statement_id}"): get_statement,
    ("PUT", "/v1/account/keywords"): put_keywords,
    ("GET", "/v1/account/opt-out"): get_opt_out_policy,
    ("PUT", "/v1/account/opt-out"): put_opt_out_policy,
    ("POST", "/v1/opt-out-links"): create_opt_out_link,
    ("POST", "/v1/admin/privacy/erasures"): erase_subject,
    ("GET", "/v1/admin/privacy/erasures"): list_erasures,
    ("POST", "/v1/privacy/redact"): redact_text,
    ("GET", "/v1/stats/messages"): message_statistics,
    ("POST", "/v1/contacts/imports"): create_import,
    ("GET", "/v1/contacts/imports"): list_imports,
    ("GET", "/v1/contacts/imports/{import_id}"): get_import,
    ("GET", "/v1/contacts/imports/{import_id}/errors.csv"): import_errors,
    ("GET", "/v1/contacts/export"): export_contacts,
    ("POST", "/v1/contacts"): create_contact,
    ("GET", "/v1/contacts"): list_contacts,
    ("GET", "/v1/contacts/{contact_id}"): get_contact,
    ("PATCH", "/v1/contacts/{contact_id}"): update_contact,
    ("DELETE", "/v1/contacts/{contact_id}"): delete_contact,
    ("POST", "/v1/lists"): create_list,
    ("GET", "/v1/lists"): list_lists,
    ("GET", "/v1/lists/{list_id}"): get_list,
    ("PATCH", "/v1/lists/{list_id}"): rename_list,
    ("DELETE", "/v1/lists/{list_id}"): delete_list,
    ("POST", "/v1/lists/{list_id}/members"): add_members,
    ("DELETE", "/v1/lists/{list_id}/members/{contact_id}"): remove_member,
    ("POST", "/v1/contact-fields"): create_field,
    ("GET", "/v1/contact-fields"): list_fields,
    ("DELETE", "/v1/contact-fields/{field_id}"): delete_field,
    ("POST", "/v1/contacts/{contact_id}/consents"): record_consent,
    ("GET", "/v1/contacts/{contact_id}/consents"): get_consents,
    ("GET", "/v1/account/users/me/marketing"): get_my_marketing,
    ("PUT", "/v1/account/users/me/marketing"): put_my_marketing,
    ("GET", "/v1/admin/marketing/audience"): marketing_audience,
}


def connectors_operator_only(method: str, path: str) -> Callable[[World], None]:
    """Connectors and routes belong to the deployment: an account's key (even its admin) is
    refused before anything is read or changed."""

    def case(w: World) -> None:
        concrete = path.replace("{name}", "op1").replace("{route_id}", "rte_0000000000000")
        body: dict[str, Any] | None = None
        if method in ("POST", "PUT"):
            body = (
                {"prefix": "+31", "connector": "sim"}
                if "/routes" in path
                else {"name": "op1", "type": "simulator"}
            )
            if method == "PUT" and "/connectors" in path:
                del body["name"]
        response = w.client.request(method, concrete, headers=w.a.headers, json=body)
        assert_problem(response, 403, "insufficient_scope")

    return case


CASES.update(
    {
        (method, path): connectors_operator_only(method, path)
        for method, path in [
            ("GET", "/v1/admin/connectors"),
            ("POST", "/v1/admin/connectors"),
            ("GET", "/v1/admin/connectors/{name}"),
            ("PUT", "/v1/admin/connectors/{name}"),
            ("DELETE", "/v1/admin/connectors/{name}"),
            ("GET", "/v1/admin/routes"),
            ("POST", "/v1/admin/routes"),
            ("PUT", "/v1/admin/routes/{route_id}"),
            ("DELETE", "/v1/admin/routes/{route_id}"),
        ]
    }
)


def _v1_routes(client: TestClient) -> list[tuple[str, str]]:
    return [(m, p) for m, p in api_routes(client.app) if p.startswith("/v1")]


def test_every_v1_route_has_an_isolation_case(client: TestClient) -> None:
    routes = _v1_routes(client)
    missing = sorted(set(routes) - set(CASES))
    assert not missing, f"routes without a tenant-isolation case: {missing}"
    stale = sorted(set(CASES) - set(routes))
    assert not stale, f"isolation cases for routes that no longer exist: {stale}"


def test_account_a_reaches_nothing_of_account_b_on_any_route(world: World) -> None:
    before = _snapshot(world.b, world.b_consent_contact_id)
    assert len(before["messages"]["data"]) == 3
    assert len(before["failures"]["data"]) == 3
    assert world.b_contact_id in [c["id"] for c in before["contacts"]["data"]]
    assert len(before["contacts"]["data"]) == 3  # two created (one with consent), one imported
    assert before["import_errors"][0].count("\n") == 2  # the header and one refused row
    assert {x["name"]: x["members"] for x in before["lists"]["data"]}[B_LIST] == 1
    failures: list[str] = []
    walked = 0
    for method, path in _v1_routes(world.client):
        case = CASES.get((method, path))
        if case is None:
            failures.append(f"{method} {path}: no isolation case")
            continue
        walked += 1
        try:
            case(world)
        except AssertionError as exc:
            failures.append(f"{method} {path}: {exc}")
    assert not failures, "\n".join(failures)
    assert walked == len(CASES)

    assert _snapshot(world.b, world.b_consent_contact_id) == before
    b_extra = {"Authorization": f"Bearer {world.b_extra_key}"}
    assert _ok(world.client.get("/v1/account", headers=b_extra))["id"] == world.b.account_id
    assert wait_for_status(world.b, world.b_messages["scheduled"], "scheduled")
