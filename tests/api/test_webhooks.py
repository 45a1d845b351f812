"""Webhooks to a real local HTTP receiver: signed, retried, dead-lettered after 24 h, replayed.

The webhook sender polls in real time; its backoff and the 24-hour limit follow the ManualClock.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.api.helpers import assert_problem, later, message_ids, parse_time, send, wait_for_status
from tests.api.receiver import Receiver
from tests.support import Tenant, wait_until
from tidings.core.clock import ManualClock
from tidings.pipeline.transitions import webhook_row
from tidings.pipeline.webhooks import SIGNATURE_HEADER, verify
from tidings.runtime import Runtime
from tidings.store import webhooks as webhook_store

OWNED = "+14155550100"
HANDSET = "+31612345678"


def _secret(tenant: Tenant) -> str:
    response = tenant.get("/v1/account/webhook")
    assert response.status_code == 200, response.text
    secret: str = response.json()["secret"]
    assert secret.startswith("whsec_")
    return secret


def _failures(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    response = tenant.get("/v1/webhooks/failures", params=params)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def _status_events(receiver: Receiver, message_id: str) -> dict[str, Any]:
    """The latest request per status for a message."""
    return {
        r.payload["status"]: r
        for r in receiver.events("message.status")
        if r.payload["message_id"] == message_id
    }


def test_status_events_arrive_signed_with_the_account_secret(
    tenant: Tenant, receiver: Receiver, clock: ManualClock
) -> None:
    secret = _secret(tenant)
    created = send(tenant, status_callback=receiver.url)
    wait_for_status(tenant, created["id"], "delivered")
    events = wait_until(
        lambda: (e := _status_events(receiver, created["id"])) and len(e) == 2 and e,
        message="sent and delivered events",
    )
    assert set(events) == {"sent", "delivered"}
    assert events["sent"].payload["previous_status"] == "sending"
    assert events["delivered"].payload["previous_status"] == "sent"
    for request in events.values():
        header = request.headers[SIGNATURE_HEADER.lower()]
        assert verify(secret, header, request.body, clock.now())
        assert not verify("whsec_wrong", header, request.body, clock.now())
        assert not verify(secret, header, request.body + b" ", clock.now())
        assert not verify(secret, header, request.body, clock.now() + timedelta(minutes=10))
        assert request.payload["id"] == request.delivery_id
        assert request.payload["event"] == "message.status"
        assert request.headers["content-type"] == "application/json"
    assert len(receiver.requests) == 2  # no event for the internal "sending" step


def test_account_default_webhook_gets_events_without_a_status_callback(
    tenant: Tenant, receiver: Receiver
) -> None:
    put = tenant.put("/v1/account/webhook", {"url": receiver.url})
    assert put.status_code == 200, put.text
    assert put.json()["url"] == receiver.url
    assert tenant.get("/v1/account/webhook").json()["url"] == receiver.url
    created = send(tenant)
    wait_until(
        lambda: "delivered" in _status_events(receiver, created["id"]),
        message="the delivered event at the account webhook",
    )
    assert tenant.put("/v1/account/webhook", {"url": None}).json()["url"] is None


def test_status_callback_takes_precedence_over_the_account_webhook(
    tenant: Tenant, receiver: Receiver
) -> None:
    with Receiver() as account_hook:
        tenant.put("/v1/account/webhook", {"url": account_hook.url})
        created = send(tenant, status_callback=receiver.url)
        wait_until(
            lambda: "delivered" in _status_events(receiver, created["id"]),
            message="the delivered event at the status_callback",
        )
        assert account_hook.requests == []


def test_inbound_event_arrives_with_from_to_and_body(
    tenant: Tenant, receiver: Receiver, clock: ManualClock
) -> None:
    tenant.put("/v1/account/webhook", {"url": receiver.url})
    assert tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    injected = tenant.post(
        "/v1/simulator/inbound", {"from": HANDSET, "to": OWNED, "body": "Is my order ready?"}
    )
    assert injected.status_code == 202, injected.text
    (request,) = wait_until(lambda: receiver.events("message.inbound"), message="inbound event")
    payload = request.payload
    assert (payload["from"], payload["to"], payload["body"]) == (
        HANDSET,
        OWNED,
        "Is my order ready?",
    )
    assert payload["message_id"] == message_ids(tenant, status="received")[0]
    assert verify(
        _secret(tenant), request.headers[SIGNATURE_HEADER.lower()], request.body, clock.now()
    )


def _recorded(runtime: Runtime, tenant: Tenant, delivery_id: str, attempts: int) -> bool:
    """The sender has recorded this many attempts (and so scheduled the next one)."""
    with runtime.db.read() as conn:
        row = webhook_store.get_delivery(conn, tenant.account_id, delivery_id)
    return row is not None and row.attempts == attempts and row.lease_until is None


def test_receiver_answering_500_gets_retries_with_backoff(
    tenant: Tenant, receiver: Receiver, clock: ManualClock, runtime: Runtime
) -> None:
    receiver.status = 500
    created = send(tenant, status_callback=receiver.url)
    wait_for_status(tenant, created["id"], "delivered")
    first = wait_until(
        lambda: _status_events(receiver, created["id"]).get("delivered"),
        message="the first attempt",
    )
    delivery = first.delivery_id
    for attempt in (2, 3):
        wait_until(lambda n=attempt: _recorded(runtime, tenant, delivery, n - 1))
        assert len(receiver.attempts(delivery)) == attempt - 1
        clock.advance(timedelta(hours=1))  # beyond any backoff below the 1-hour cap
        wait_until(
            lambda n=attempt: len(receiver.attempts(delivery)) >= n,
            message=f"attempt {attempt}",
        )
    attempts = receiver.attempts(delivery)
    assert len({a.body for a in attempts}) == 1  # the same event, re-sent
    assert all(a.answered == 500 for a in attempts)
    assert _failures(tenant) == []  # still retrying within its 24 hours


def test_failing_delivery_is_dead_lettered_after_24_hours_and_replayed(
    tenant: Tenant, receiver: Receiver, clock: ManualClock, runtime: Runtime
) -> None:
    receiver.status = 500
    created = send(tenant, status_callback=receiver.url)
    wait_for_status(tenant, created["id"], "delivered")
    events = wait_until(
        lambda: (e := _status_events(receiver, created["id"])) and len(e) == 2 and e,
        message="first attempts",
    )
    for request in events.values():
        wait_until(lambda r=request: _recorded(runtime, tenant, r.delivery_id, 1))
    clock.advance(timedelta(hours=25))
    dead = wait_until(
        lambda: (f := _failures(tenant)) and len(f) == 2 and f, message="two dead deliveries"
    )
    by_id = {d["id"]: d for d in dead}
    assert set(by_id) == {r.delivery_id for r in events.values()}
    target = events["delivered"].delivery_id
    failure = by_id[target]
    assert failure["event"] == "message.status"
    assert failure["message_id"] == created["id"]
    assert failure["url"] == receiver.url
    assert failure["attempts"] == 2  # the first, and the one after 25 hours
    assert failure["last_error"] == "HTTP 500"
    assert parse_time(failure["last_attempt_at"]) <= clock.now()
    assert len(receiver.attempts(target)) == failure["attempts"]

    receiver.status = 200
    replay = tenant.post(f"/v1/webhooks/failures/{target}/replay")
    assert replay.status_code == 202, replay.text
    assert replay.json() == {"id": target, "state": "pending"}
    wait_until(
        lambda: any(a.answered == 200 for a in receiver.attempts(target)),
        message="the replayed delivery",
    )
    wait_until(lambda: [f["id"] for f in _failures(tenant)] == [events["sent"].delivery_id])
    replayed = receiver.attempts(target)[-1]
    assert replayed.body == events["delivered"].body
    assert verify(
        _secret(tenant), replayed.headers[SIGNATURE_HEADER.lower()], replayed.body, clock.now()
    )
    again = tenant.post(f"/v1/webhooks/failures/{target}/replay")
    assert_problem(again, 404, "delivery_not_found")


def test_failures_are_paginated_newest_first(
    tenant: Tenant, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.status = 500
    for _ in range(2):
        created = send(tenant, status_callback=receiver.url)
        wait_for_status(tenant, created["id"], "delivered")
        clock.advance(timedelta(seconds=1))
    wait_until(lambda: len(receiver.requests) >= 4, message="first attempts")
    clock.advance(timedelta(hours=25))
    wait_until(lambda: len(_failures(tenant)) == 4, message="four dead deliveries")
    everything = [f["id"] for f in _failures(tenant)]
    assert everything == sorted(everything, reverse=True)
    first = tenant.get("/v1/webhooks/failures", params={"limit": 3}).json()
    second = tenant.get(
        "/v1/webhooks/failures", params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    assert [f["id"] for f in first["data"] + second["data"]] == everything
    assert second["next_cursor"] is None


def test_replay_of_an_unknown_delivery_is_404(tenant: Tenant) -> None:
    response = tenant.post("/v1/webhooks/failures/whk_01kjmma2g0es08p3zc1dzq52b1/replay")
    assert_problem(response, 404, "delivery_not_found")


def test_a_delivery_to_a_url_the_client_refuses_is_dead_lettered_not_stuck(
    tenant: Tenant, runtime: Runtime, clock: ManualClock
) -> None:
    """A URL stored before validation was tightened must not block the outbox forever."""
    now = clock.now()
    row = webhook_row(
        runtime.crypto,
        tenant.account_id,
        None,
        "message.status",
        "http://exa\nmple.com/hook",
        {"event": "message.status"},
        now,
    )
    with runtime.db.write() as conn:
        webhook_store.insert_deliveries(conn, [row])
    clock.advance(timedelta(hours=25))
    (dead,) = wait_until(_failures_of(tenant), message="the bad URL to be dead-lettered")
    assert dead["id"] == row["id"]
    assert dead["last_error"]


def _failures_of(tenant: Tenant) -> Any:
    return lambda: _failures(tenant)


def test_scheduled_message_events_start_when_it_is_released(
    tenant: Tenant, receiver: Receiver, clock: ManualClock
) -> None:
    created = send(tenant, status_callback=receiver.url, send_at=later(clock, hours=1))
    clock.advance(timedelta(hours=1, seconds=1))
    events = wait_until(
        lambda: (e := _status_events(receiver, created["id"])) and len(e) == 3 and e,
        message="queued, sent and delivered events",
    )
    assert set(events) == {"queued", "sent", "delivered"}
    assert events["queued"].payload["previous_status"] == "scheduled"
