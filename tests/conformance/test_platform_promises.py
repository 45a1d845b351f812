"""The messaging platform's own promises, proven through its public surface: the API
customers integrate with (ICE-01, BSMS-13), traffic handed to operators by route (ICE-02),
accounts created at registration and billed (ICE-05), accounts protected by email and
password (BSMS-07), and message content treated as possibly sensitive (BSMS-01)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.api.helpers import serve, wait_for_status
from tests.api.receiver import Receiver
from tests.support import Tenant, raw_tables, wait_until
from tidings.core.clock import ManualClock
from tidings.core.config import BillingConfig, ConnectorConfig, RouteConfig
from tidings.pipeline.webhooks import SIGNATURE_HEADER, verify
from tidings.runtime import Runtime
from tidings.store.tables import users

OWNED = "+14155550100"
HANDSET = "+31612345678"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.mark.promise("ICE-01")
@pytest.mark.promise("BSMS-13")
def test_ice_01_bsms_13_customers_exchange_messages_through_the_api_and_their_endpoint(
    tenant: Tenant, receiver: Receiver, clock: ManualClock
) -> None:
    """A customer's software sends with its API key, reads the outcome back, gets the
    handset's reply, and Tidings calls the customer's own endpoint (a third-party API)
    with every status change and the reply, signed with the account's secret."""
    assert tenant.post("/v1/numbers", {"number": OWNED}).status_code == 201
    webhook = tenant.put("/v1/account/webhook", {"url": receiver.url}).json()
    sent = tenant.post("/v1/messages", {"to": HANDSET, "from": OWNED, "body": "Your code: 4711"})
    assert sent.status_code == 202, sent.text
    delivered = wait_for_status(tenant, sent.json()["id"], "delivered")
    assert delivered["direction"] == "outbound" and delivered["body"] == "Your code: 4711"

    reply = {"from": HANDSET, "to": OWNED, "body": "Thanks!"}
    assert tenant.post("/v1/simulator/inbound", reply).status_code == 202
    received = wait_until(
        lambda: [
            m for m in tenant.get("/v1/messages").json()["data"] if m["direction"] == "inbound"
        ],
        message="the reply in the account's messages",
    )
    assert [(m["from"], m["to"], m["body"], m["status"]) for m in received] == [
        (HANDSET, OWNED, "Thanks!", "received")
    ]

    def calls() -> dict[str, Any]:
        found = {}
        for request in receiver.requests:
            payload = request.payload
            found[payload.get("status") or payload["event"]] = request
        return found

    events = wait_until(
        lambda: (c := calls()) and {"sent", "delivered", "message.inbound"} <= set(c) and c,
        message="status and inbound webhooks at the customer's endpoint",
    )
    assert events["message.inbound"].payload["body"] == "Thanks!"
    for request in events.values():
        signature = request.headers[SIGNATURE_HEADER.lower()]
        assert verify(webhook["secret"], signature, request.body, clock.now())


def _sim(name: str, **rules: Any) -> ConnectorConfig:
    options = {"latency_ms": 5, "journal": False, **rules}
    return ConnectorConfig(name, "simulator", tps=5000, window=500, options=options)


@pytest.mark.promise("ICE-02")
def test_ice_02_traffic_is_handed_to_the_operator_its_route_names(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    """Dutch numbers go to the Dutch operator, the rest to the international one; when the
    Dutch operator fails temporarily, its fallback carries the message."""
    connectors = (_sim("nl_down", temporary_failure_ratio=1), _sim("nl"), _sim("world"))
    routes = (
        RouteConfig("+3161", "nl_down", 10),
        RouteConfig("+3161", "nl", 5),
        RouteConfig("+31", "nl", 0),
        RouteConfig("+", "world", 0),
    )
    with serve(database_url, tmp_path, clock, connectors=connectors, routes=routes) as (
        client,
        runtime,
    ):
        tenant = Tenant(client, runtime, "Acme")
        carried = {}
        for to in ("+31201234567", "+447911123456", "+31612345678"):
            created = tenant.post("/v1/messages", {"to": to, "from": "Acme", "body": "Hi"})
            message = wait_for_status(tenant, created.json()["id"], "delivered")
            carried[to] = [part["connector"] for part in message["parts"]]
    assert carried == {"+31201234567": ["nl"], "+447911123456": ["world"], "+31612345678": ["nl"]}


@pytest.mark.promise("ICE-05")
def test_ice_05_an_account_created_at_registration_is_billed_for_its_messages(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    """The account exists from its registration on; what it sent in a month is on that
    month's statement, priced, for the account to read with its own key."""
    rates = BillingConfig(currency="EUR", prices=(("sms", "outbound", Decimal("0.045")),))
    clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    with serve(database_url, tmp_path, clock, billing=rates) as (client, runtime):
        tenant = Tenant(client, runtime, "Acme")  # tidings account create
        for body in ("Hi", "x" * 200):  # one segment, then two
            created = tenant.post("/v1/messages", {"to": HANDSET, "from": "Acme", "body": body})
            wait_for_status(tenant, created.json()["id"], "delivered")
        clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=UTC))
        assert len(runtime.statements.issue_due().issued) == 1
        (listed,) = tenant.get("/v1/account/statements").json()["data"]
        statement = tenant.get(f"/v1/account/statements/{listed['id']}").json()
    assert (statement["period"], statement["currency"]) == ("2026-03", "EUR")
    assert [(line["channel"], line["direction"]) for line in statement["lines"]] == [
        ("sms", "outbound")
    ]
    assert (statement["messages"], statement["segments"], statement["total"]) == (2, 3, "0.13500")


@pytest.mark.promise("BSMS-07")
def test_bsms_07_accounts_are_protected_by_email_and_password(
    client: TestClient, tenant: Tenant, runtime: Runtime
) -> None:
    """A user signs in with email and password; only an argon2id hash of the password is
    stored; a wrong password, an unknown email or no credentials are refused alike."""
    password = "correct horse battery staple"
    runtime.accounts.create_user(tenant.account_id, "Ops@Acme.example", password)
    mine = "/v1/account/users/me/marketing"
    assert client.get(mine, auth=("ops@acme.example", password)).status_code == 200
    for auth in (("ops@acme.example", "wrong"), ("nobody@acme.example", password)):
        assert client.get(mine, auth=auth).status_code == 401
    assert client.get(mine).status_code == 401
    with runtime.db.read() as conn:
        (stored,) = conn.execute(select(users.c.password_hash)).scalars()
    assert stored.startswith("$argon2id$") and password not in stored
    assert password.encode() not in raw_tables(runtime)


SENSITIVE = "HIV test result: positive, call Dr Vos"


@pytest.mark.promise("BSMS-01")
def test_bsms_01_message_content_is_treated_as_possibly_sensitive(
    tenant: Tenant, receiver: Receiver, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """A body may reveal health, belief or origin: it is encrypted at rest, never written to
    the logs, and left out of status webhooks (only the message's own reader sees it)."""
    caplog.set_level(logging.DEBUG)
    created = tenant.post(
        "/v1/messages",
        {"to": HANDSET, "from": "Clinic", "body": SENSITIVE, "status_callback": receiver.url},
    ).json()
    assert wait_for_status(tenant, created["id"], "delivered")["body"] == SENSITIVE
    wait_until(lambda: len(receiver.requests) >= 2, message="sent and delivered webhooks")
    assert all("body" not in r.payload for r in receiver.requests)
    assert all(SENSITIVE.encode() not in r.body for r in receiver.requests)
    dump = raw_tables(runtime)
    assert len(dump) > 1000
    for needle in (SENSITIVE.encode(), b"HIV", SENSITIVE.encode("utf-16-le")):
        assert needle not in dump
    assert "HIV" not in caplog.text
