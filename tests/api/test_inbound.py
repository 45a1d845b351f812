"""Inbound messages from the simulator belong to the account that owns the number."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_problem, message, message_ids
from tests.support import Tenant, wait_until

OWNED = "+14155550100"
HANDSET = "+31612345678"


def _inject(tenant: Tenant, to: str, body: str = "STOP") -> Any:
    return tenant.post("/v1/simulator/inbound", {"from": HANDSET, "to": to, "body": body})


def test_inbound_to_an_owned_number_is_received_by_that_account(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    assert tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    response = _inject(tenant, "+1 415 555 0100", "Yes, confirm my booking")
    assert response.status_code == 202, response.text
    assert response.json()["to"] == OWNED

    (message_id,) = wait_until(lambda: message_ids(tenant), message="the inbound message")
    received = message(tenant, message_id)
    assert received["direction"] == "inbound"
    assert received["status"] == "received"
    assert received["account_id"] == tenant.account_id
    assert (received["from"], received["to"]) == (HANDSET, OWNED)
    assert received["body"] == "Yes, confirm my booking"
    assert [h["status"] for h in received["status_history"]] == ["received"]
    assert message_ids(tenant, status="received") == [message_id]
    assert message_ids(tenant, to=HANDSET) == []  # inbound: the handset is the sender

    assert message_ids(other_tenant) == []
    assert_problem(other_tenant.get(f"/v1/messages/{message_id}"), 404, "message_not_found")


def test_inbound_to_another_accounts_number_is_404(tenant: Tenant, other_tenant: Tenant) -> None:
    assert tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    problem = assert_problem(_inject(other_tenant, OWNED), 404, "number_not_found")
    assert problem["field"] == "to"
    assert_problem(_inject(other_tenant, "+14155550199"), 404, "number_not_found")
    assert message_ids(other_tenant) == []
    assert message_ids(tenant) == []


def test_inbound_cannot_be_canceled(tenant: Tenant) -> None:
    assert tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    assert _inject(tenant, OWNED).status_code == 202
    (message_id,) = wait_until(lambda: message_ids(tenant), message="the inbound message")
    assert_problem(tenant.delete(f"/v1/messages/{message_id}"), 409, "not_cancelable")


def test_inbound_with_a_bad_address_or_empty_body_is_refused_not_dropped(tenant: Tenant) -> None:
    assert tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    assert_problem(_inject(tenant, "not a number"), 400, "invalid_to", "to")
    empty = tenant.post("/v1/simulator/inbound", {"from": HANDSET, "to": OWNED, "body": ""})
    assert_problem(empty, 422, "validation_error", "body")
    bad_sender = tenant.post("/v1/simulator/inbound", {"from": "+1", "to": OWNED, "body": "Hi"})
    assert_problem(bad_sender, 400, "invalid_from", "from")
    assert message_ids(tenant) == []
