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
from tidings.core.clock import ManualClock

pytestmark = pytest.mark.promise("BSMS-04")

B_NUMBER = "+14155550100"
A_NUMBER = "+14155550111"
B_RECIPIENT = "+31612345678"
B_BODY = "Globex private: your loan is approved"
B_PAYLOAD = {"to": B_RECIPIENT, "from": "Globex", "body": B_BODY}
B_IDEMPOTENCY_KEY = "order-1"
B_OPTED_OUT = "+31612345670"  # opted out of B's messages


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
    b_opt_out_token: str = ""

    @property
    def b_message_ids(self) -> set[str]:
        return set(self.b_messages.values())


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _failure_ids(tenant: Tenant, **params: Any) -> list[str]:
    page = _ok(tenant.get("/v1/webhooks/failures", params=params))
    return [f["id"] for f in page["data"]]


def _snapshot(b: Tenant) -> dict[str, Any]:
    return {
        "messages": _ok(b.get("/v1/messages", params={"limit": 500})),
        "numbers": _ok(b.get("/v1/numbers")),
        "api_keys": _ok(b.get("/v1/api-keys")),
        "account": _ok(b.get("/v1/account")),
        "webhook": _ok(b.get("/v1/account/webhook")),
        "failures": _ok(b.get("/v1/webhooks/failures")),
        "keywords": _ok(b.get("/v1/account/keywords")),
        "opt_out_policy": _ok(b.get("/v1/account/opt-out")),
    }


@pytest.fixture
def world(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, clock: ManualClock
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
        # B's consent world: its own keywords and policy, and a number opted out of B
        b_words = {"languages": {"nl": {"opt_out": ["AFMELDEN"], "opt_in": ["AANMELDEN"]}}}
        _ok(b.put("/v1/account/keywords", b_words))
        _ok(b.put("/v1/account/opt-out", {"transactional": "refuse", "confirm_by_reply": True}))
        link = _ok(b.post("/v1/opt-out-links", {"to": B_OPTED_OUT}), 201)
        w.b_opt_out_token = link["token"]
        assert client.post(f"/o/{w.b_opt_out_token}").status_code == 200
        to_opted = {**B_PAYLOAD, "to": B_OPTED_OUT}
        assert_problem(b.post("/v1/messages", to_opted), 422, "opted_out", "to")
        yield w


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
]


def get_access_log(w: World) -> None:
    w.b.get("/v1/numbers")
    page = _ok(w.a.get("/v1/account/access-log", params={"limit": 500}))
    assert page["data"] and {e["account_id"] for e in page["data"]} == {w.a.account_id}


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
    ("PUT", "/v1/account/keywords"): put_keywords,
    ("GET", "/v1/account/opt-out"): get_opt_out_policy,
    ("PUT", "/v1/account/opt-out"): put_opt_out_policy,
    ("POST", "/v1/opt-out-links"): create_opt_out_link,
}


def _v1_routes(client: TestClient) -> list[tuple[str, str]]:
    return [(m, p) for m, p in api_routes(client.app) if p.startswith("/v1")]


def test_every_v1_route_has_an_isolation_case(client: TestClient) -> None:
    routes = _v1_routes(client)
    missing = sorted(set(routes) - set(CASES))
    assert not missing, f"routes without a tenant-isolation case: {missing}"
    stale = sorted(set(CASES) - set(routes))
    assert not stale, f"isolation cases for routes that no longer exist: {stale}"


def test_account_a_reaches_nothing_of_account_b_on_any_route(world: World) -> None:
    before = _snapshot(world.b)
    assert len(before["messages"]["data"]) == 3
    assert len(before["failures"]["data"]) == 3
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

    assert _snapshot(world.b) == before
    b_extra = {"Authorization": f"Bearer {world.b_extra_key}"}
    assert _ok(world.client.get("/v1/account", headers=b_extra))["id"] == world.b.account_id
    assert wait_for_status(world.b, world.b_messages["scheduled"], "scheduled")
