"""The signed opt-out link: no number in the URL, GET shows, POST opts out (source web_form)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import assert_problem, later, message, send
from tests.consent.helpers import HANDSET, MARKETING, consents, grant
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime


def _link(tenant: Tenant, **fields: str) -> dict[str, str]:
    response = tenant.post("/v1/opt-out-links", {"to": HANDSET, **fields})
    assert response.status_code == 201, response.text
    link: dict[str, str] = response.json()
    return link


def test_link_carries_no_number_and_a_get_changes_nothing(
    tenant: Tenant, runtime: Runtime, client: TestClient
) -> None:
    link = _link(tenant)
    assert link["url"].endswith(f"/o/{link['token']}")
    for form in (HANDSET, HANDSET.lstrip("+"), "612345678"):
        assert form not in link["url"]
    page = client.get(f"/o/{link['token']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<form method=post" in page.text and HANDSET not in page.text
    assert consents(runtime, tenant)["opted_out"] == []


def test_posting_the_form_opts_out_with_evidence_and_cancels_waiting_marketing(
    tenant: Tenant, runtime: Runtime, client: TestClient, clock: ManualClock
) -> None:
    grant(runtime, tenant)
    waiting = send(tenant, **MARKETING, send_at=later(clock, hours=2))
    link = _link(tenant)
    done = client.post(f"/o/{link['token']}", headers={"User-Agent": "Handset browser"})
    assert done.status_code == 200 and "unsubscribed" in done.text
    state = consents(runtime, tenant)
    assert state["opted_out"] == ["sms"]
    event = state["history"][-1]
    assert (event["action"], event["source"]) == ("withdrawn", "web_form")
    assert event["evidence"]["user_agent"] == "Handset browser"
    assert event["evidence"]["notice"] == "opt-out page v1"
    assert event["evidence"]["ip"]
    assert message(tenant, waiting["id"])["status"] == "canceled"
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")


def test_a_changed_or_foreign_token_is_refused(
    tenant: Tenant, other_tenant: Tenant, runtime: Runtime, client: TestClient
) -> None:
    token = _link(tenant)["token"]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, token[:-1], "x" * 40, "short"):
        assert client.get(f"/o/{bad}").status_code == 404
        assert client.post(f"/o/{bad}").status_code == 404
    assert consents(runtime, tenant)["opted_out"] == []


def test_bad_link_requests_are_clear_4xx(tenant: Tenant) -> None:
    assert_problem(
        tenant.post("/v1/opt-out-links", {"to": "nonsense"}), 400, "invalid_number", "to"
    )
    assert_problem(
        tenant.post("/v1/opt-out-links", {"to": HANDSET, "channel": "pigeon"}),
        400,
        "invalid_channel",
        "channel",
    )
