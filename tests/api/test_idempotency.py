"""Idempotency-Key: a retry returns the first message; the key with a new body is 409."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.api.helpers import VALID, assert_problem, message_ids, wait_for_status
from tests.support import Tenant


def _send(tenant: Tenant, key: str, body: dict[str, Any] = VALID) -> Any:
    return tenant.post("/v1/messages", body, headers={"Idempotency-Key": key})


def test_same_key_and_body_returns_the_same_message_once(tenant: Tenant) -> None:
    first = _send(tenant, "order-1001")
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    original = first.json()
    wait_for_status(tenant, original["id"], "delivered")

    again = _send(tenant, "order-1001")
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    replay = again.json()
    assert replay["id"] == original["id"]
    assert replay["status"] == "delivered"
    assert message_ids(tenant) == [original["id"]]


def test_same_key_with_a_different_body_is_409(tenant: Tenant) -> None:
    first = _send(tenant, "order-1002").json()
    changed = _send(tenant, "order-1002", {**VALID, "body": "Hello again"})
    problem = assert_problem(changed, 409, "idempotency_conflict")
    assert "Idempotency-Key" in problem["detail"]
    assert message_ids(tenant) == [first["id"]]


def test_keys_are_per_account(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = _send(tenant, "shared-key").json()
    theirs_response = _send(other_tenant, "shared-key")
    assert theirs_response.status_code == 202
    theirs = theirs_response.json()
    assert theirs["id"] != mine["id"]
    assert theirs["account_id"] == other_tenant.account_id
    assert message_ids(tenant) == [mine["id"]]
    assert message_ids(other_tenant) == [theirs["id"]]
    different = _send(other_tenant, "shared-key", {**VALID, "body": "Other"})
    assert_problem(different, 409, "idempotency_conflict")


def test_a_refused_request_does_not_use_up_its_key(tenant: Tenant) -> None:
    refused = _send(tenant, "order-1003", {**VALID, "to": "nope"})
    assert_problem(refused, 400, "invalid_to")
    accepted = _send(tenant, "order-1003")
    assert accepted.status_code == 202, accepted.text
    assert message_ids(tenant) == [accepted.json()["id"]]


def test_different_keys_make_different_messages(tenant: Tenant) -> None:
    a = _send(tenant, "k-1").json()
    b = _send(tenant, "k-2").json()
    assert a["id"] != b["id"]
    assert sorted(message_ids(tenant)) == sorted([a["id"], b["id"]])


def test_concurrent_retries_with_one_key_make_one_message(tenant: Tenant) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: _send(tenant, "order-race"), range(6)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 200, 200, 200, 202], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert message_ids(tenant) == [responses[0].json()["id"]]
