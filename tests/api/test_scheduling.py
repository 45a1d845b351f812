"""Scheduled sending, cancelation and validity, driven by the ManualClock the pipeline reads."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.api.helpers import (
    TO,
    VALID,
    assert_problem,
    later,
    message,
    parse_time,
    send,
    statuses,
    wait_for_status,
)
from tests.support import Tenant
from tidings.channels.simulator.connector import SimulatorConnector
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime


def submitted(runtime: Runtime) -> int:
    """How many messages the simulator connector has been handed."""
    connector = runtime.connectors["sim"]
    assert isinstance(connector, SimulatorConnector)
    return connector.submitted


def idle(seconds: float = 0.3) -> None:
    """Give the dispatcher (polling every 50 ms of real time) several chances to act."""
    time.sleep(seconds)


def test_future_send_at_holds_the_message_until_the_clock_passes_it(
    tenant: Tenant, clock: ManualClock, runtime: Runtime
) -> None:
    created = send(tenant, send_at=later(clock, hours=1))
    assert created["status"] == "scheduled"
    assert parse_time(created["send_at"]) == clock.now() + timedelta(hours=1)
    idle()
    assert message(tenant, created["id"])["status"] == "scheduled"
    clock.advance(timedelta(minutes=59))
    idle()
    assert message(tenant, created["id"])["status"] == "scheduled"
    assert submitted(runtime) == 0
    clock.advance(timedelta(minutes=1, seconds=1))
    delivered = wait_for_status(tenant, created["id"], "delivered")
    assert statuses(delivered) == ["scheduled", "queued", "sending", "sent", "delivered"]
    assert submitted(runtime) == 1


def test_send_at_in_the_past_sends_now(tenant: Tenant, clock: ManualClock) -> None:
    created = send(tenant, send_at=later(clock, minutes=-5))
    assert created["status"] == "queued"
    assert created["send_at"] is None
    wait_for_status(tenant, created["id"], "delivered")


def test_send_at_at_the_ends_of_the_calendar_is_now_or_too_far_never_a_500(
    tenant: Tenant,
) -> None:
    # Found by fuzzing: year 1 at +01:00 and 9999 at -01:00 have no UTC equivalent.
    past, future = "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"
    created = send(tenant, send_at=past)
    assert (created["status"], created["send_at"]) == ("queued", None)
    assert_problem(
        tenant.post("/v1/messages", {**VALID, "send_at": future}), 400, "invalid_send_at"
    )
    keyed = tenant.post(
        "/v1/messages", {**VALID, "send_at": past}, headers={"Idempotency-Key": "k"}
    )
    assert keyed.status_code == 202, keyed.text
    batch = tenant.post(
        "/v1/messages/batch",
        {"messages": [{**VALID, "send_at": past}, {**VALID, "send_at": future}]},
    )
    assert batch.status_code == 202, batch.text
    assert [e["code"] for e in batch.json()["errors"]] == ["invalid_send_at"]
    shared = {"to": [TO], "from": "Acme", "body": "Hi", "send_at": past}
    assert tenant.post("/v1/messages/batch", shared).status_code == 202


def test_canceled_scheduled_message_is_never_dispatched(
    tenant: Tenant, clock: ManualClock, runtime: Runtime
) -> None:
    created = send(tenant, send_at=later(clock, minutes=30))
    response = tenant.delete(f"/v1/messages/{created['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    clock.advance(timedelta(hours=2))
    idle()
    final = message(tenant, created["id"])
    assert final["status"] == "canceled"
    assert statuses(final) == ["scheduled", "canceled"]
    assert submitted(runtime) == 0


def test_cancel_twice_is_409(tenant: Tenant, clock: ManualClock) -> None:
    created = send(tenant, send_at=later(clock, minutes=30))
    assert tenant.delete(f"/v1/messages/{created['id']}").status_code == 200
    assert_problem(tenant.delete(f"/v1/messages/{created['id']}"), 409, "not_cancelable")


def test_cancel_a_delivered_message_is_409_and_changes_nothing(tenant: Tenant) -> None:
    created = send(tenant)
    wait_for_status(tenant, created["id"], "delivered")
    problem = assert_problem(tenant.delete(f"/v1/messages/{created['id']}"), 409, "not_cancelable")
    assert "delivered" in problem["detail"]
    assert message(tenant, created["id"])["status"] == "delivered"


def test_cancel_an_unknown_message_is_404(tenant: Tenant) -> None:
    response = tenant.delete("/v1/messages/msg_01kjmma2g0es08p3zc1dzq52b1")
    assert_problem(response, 404, "message_not_found")


def test_scheduled_message_whose_validity_ends_before_release_expires(
    tenant: Tenant, clock: ManualClock, runtime: Runtime
) -> None:
    created = send(tenant, send_at=later(clock, hours=1), validity_seconds=600)
    assert parse_time(created["expires_at"]) == clock.now() + timedelta(hours=1, minutes=10)
    clock.advance(timedelta(hours=1, minutes=11))
    expired = wait_for_status(tenant, created["id"], "expired")
    assert expired["error_code"] == "expired"
    assert expired["sent_at"] is None
    assert "sending" not in statuses(expired)
    assert submitted(runtime) == 0


def test_scheduled_message_within_its_validity_is_delivered(
    tenant: Tenant, clock: ManualClock
) -> None:
    created = send(tenant, send_at=later(clock, hours=1), validity_seconds=600)
    clock.advance(timedelta(hours=1, minutes=5))
    delivered = wait_for_status(tenant, created["id"], "delivered")
    assert delivered["error_code"] is None


def test_send_at_is_read_in_its_offset_and_shown_in_utc(tenant: Tenant) -> None:
    with_offset = send(tenant, send_at="2026-03-01T14:30:00+02:00")  # 12:30 UTC
    assert with_offset["send_at"] == "2026-03-01T12:30:00Z"
    assert with_offset["status"] == "scheduled"
    naive = send(tenant, send_at="2026-03-01T12:45:00")  # no offset: UTC
    assert naive["send_at"] == "2026-03-01T12:45:00Z"
    earlier = send(tenant, send_at="2026-03-01T12:30:00-01:00")  # 13:30 UTC
    assert earlier["send_at"] == "2026-03-01T13:30:00Z"
