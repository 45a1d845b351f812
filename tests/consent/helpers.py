"""Helpers for the consent tests: inbound keywords through the simulator, granting consent."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import message_ids
from tests.support import Tenant, wait_until
from tidings.runtime import Runtime

OWNED = "+14155550100"
HANDSET = "+31612345678"
OTHER_HANDSET = "+31612345679"
MARKETING: dict[str, Any] = {"to": HANDSET, "from": "Acme", "body": "Sale!", "purpose": "marketing"}


def own_number(tenant: Tenant, number: str = OWNED) -> None:
    response = tenant.post("/v1/numbers", {"number": number})
    assert response.status_code == 201, response.text


def text_in(tenant: Tenant, body: str, sender: str = HANDSET, to: str = OWNED) -> None:
    """A handset sends `body` to the account's number; returns once it is recorded."""
    before = len(message_ids(tenant, status="received"))
    response = tenant.post("/v1/simulator/inbound", {"from": sender, "to": to, "body": body})
    assert response.status_code == 202, response.text
    wait_until(
        lambda: len(message_ids(tenant, status="received")) > before,
        message=f"inbound {body!r} to be recorded",
    )


def grant(rt: Runtime, tenant: Tenant, number: str = HANDSET, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "contact_id": None,
        "channel": "sms",
        "purpose": "marketing",
        "action": "granted",
        "basis": "consent",
        "source": "api",
        "evidence": {"notice": "signup form v3"},
        **fields,
    }
    return rt.consent.record(tenant.account_id, number, **values)


def consents(rt: Runtime, tenant: Tenant, number: str = HANDSET) -> dict[str, Any]:
    return rt.consent.consents_of_number(tenant.account_id, number)
