"""Accept-time consent checks: marketing needs a valid basis; opted-out numbers are refused."""

from __future__ import annotations

from tests.api.helpers import VALID, assert_problem, later, message, send
from tests.consent.helpers import HANDSET, MARKETING, OTHER_HANDSET, grant, own_number, text_in
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime


def test_marketing_without_consent_is_refused_and_transactional_is_not(
    tenant: Tenant, runtime: Runtime
) -> None:
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "no_consent", "to")
    keyed = tenant.post("/v1/messages", MARKETING, headers={"Idempotency-Key": "m-1"})
    assert_problem(keyed, 422, "no_consent", "to")
    assert send(tenant)["purpose"] == "transactional"
    grant(runtime, tenant)
    sent = send(tenant, **MARKETING)
    assert (sent["purpose"], sent["status"]) == ("marketing", "queued")
    assert message(tenant, sent["id"])["purpose"] == "marketing"


def test_consent_is_per_channel_purpose_and_withdrawal_stops_it(
    tenant: Tenant, runtime: Runtime
) -> None:
    grant(runtime, tenant, purpose="newsletter")
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "no_consent", "to")
    send(tenant, **{**MARKETING, "purpose": "newsletter"})
    grant(runtime, tenant, action="withdrawn", purpose="newsletter")
    refused = tenant.post("/v1/messages", {**MARKETING, "purpose": "newsletter"})
    assert_problem(refused, 422, "no_consent", "to")


def test_batch_refuses_items_by_index_and_accepts_the_rest(
    tenant: Tenant, runtime: Runtime
) -> None:
    grant(runtime, tenant, number=OTHER_HANDSET)
    items = [
        MARKETING,
        {**MARKETING, "to": OTHER_HANDSET},
        VALID,
        {**MARKETING, "purpose": "Bad Purpose"},
    ]
    response = tenant.post("/v1/messages/batch", {"messages": items})
    assert response.status_code == 202, response.text
    result = response.json()
    assert [m["index"] for m in result["messages"]] == [1, 2]
    assert [(e["index"], e["code"], e["field"]) for e in result["errors"]] == [
        (0, "no_consent", "to"),
        (3, "invalid_purpose", "purpose"),
    ]
    shared = tenant.post(
        "/v1/messages/batch",
        {"to": [HANDSET, OTHER_HANDSET], "from": "Acme", "body": "Sale", "purpose": "marketing"},
    )
    assert shared.status_code == 202, shared.text
    assert [e["code"] for e in shared.json()["errors"]] == ["no_consent"]
    none = tenant.post("/v1/messages/batch", {"messages": [MARKETING]})
    assert_problem(none, 422, "batch_rejected")


def test_opted_out_number_refuses_marketing_and_transactional_follows_the_policy(
    tenant: Tenant, runtime: Runtime
) -> None:
    own_number(tenant)
    grant(runtime, tenant)
    text_in(tenant, "STOP")
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")
    send(tenant)  # transactional: allowed by default
    policy = tenant.put("/v1/account/opt-out", {"transactional": "refuse"})
    assert policy.json() == {"transactional": "refuse", "confirm_by_reply": False}
    assert_problem(tenant.post("/v1/messages", VALID), 422, "opted_out", "to")
    batch = tenant.post("/v1/messages/batch", {"messages": [VALID, {**VALID, "to": OTHER_HANDSET}]})
    assert [e["code"] for e in batch.json()["errors"]] == ["opted_out"]
    assert tenant.put("/v1/account/opt-out", {"transactional": "allow"}).status_code == 200
    send(tenant)


def test_opt_out_cancels_waiting_marketing_in_the_same_transaction(
    tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    own_number(tenant)
    grant(runtime, tenant)
    grant(runtime, tenant, number=OTHER_HANDSET)
    scheduled = send(tenant, **MARKETING, send_at=later(clock, days=1))
    other = send(tenant, **{**MARKETING, "to": OTHER_HANDSET}, send_at=later(clock, days=1))
    receipt = send(tenant, send_at=later(clock, days=1))  # transactional
    text_in(tenant, "stop")
    canceled = message(tenant, scheduled["id"])
    assert (canceled["status"], canceled["error_code"]) == ("canceled", "opted_out")
    assert message(tenant, other["id"])["status"] == "scheduled"
    assert message(tenant, receipt["id"])["status"] == "scheduled"


def test_bad_purpose_and_policy_are_clear_4xx(tenant: Tenant) -> None:
    assert_problem(
        tenant.post("/v1/messages", {**VALID, "purpose": "MARKETING"}),
        400,
        "invalid_purpose",
        "purpose",
    )
    assert_problem(
        tenant.put("/v1/account/opt-out", {"transactional": "maybe"}),
        400,
        "invalid_policy",
        "transactional",
    )
    assert_problem(
        tenant.put("/v1/account/opt-out", {"transactional": "refuse", "x": 1}),
        422,
        "validation_error",
        "x",
    )
