"""The raw database holds no plaintext message body or phone number."""

from __future__ import annotations

from pathlib import Path

from tests.support import Tenant, raw_tables, wait_until
from tidings.runtime import Runtime

BODY = "Secret appointment at the clinic on Friday"
TO = "+31612345678"
FROM = "+447911123456"


def _send_and_receive(tenant: Tenant) -> None:
    assert tenant.post("/v1/numbers", {"number": FROM}).status_code == 201
    sent = tenant.post("/v1/messages", {"to": TO, "from": FROM, "body": BODY}).json()
    inbound = tenant.post(
        "/v1/simulator/inbound", {"from": TO, "to": FROM, "body": "Reply: " + BODY}
    )
    assert inbound.status_code == 202

    def done() -> bool:
        messages = tenant.get("/v1/messages").json()["data"]
        statuses = {m["id"]: m["status"] for m in messages}
        return statuses.get(sent["id"]) == "delivered" and "received" in statuses.values()

    wait_until(done, message="message delivered and reply received")


def _needles() -> list[bytes]:
    digits = TO.lstrip("+")
    needles = [
        BODY.encode(),
        b"clinic",
        TO.encode(),
        digits.encode(),
        FROM.encode(),
        FROM.lstrip("+").encode(),
        BODY.encode("utf-16-le"),
    ]
    return needles


def test_raw_tables_hold_no_plaintext(tenant: Tenant, runtime: Runtime) -> None:
    _send_and_receive(tenant)
    dump = raw_tables(runtime)
    assert len(dump) > 1000
    for needle in _needles():
        assert needle not in dump, needle


def test_sqlite_files_hold_no_plaintext(tenant: Tenant, runtime: Runtime) -> None:
    if not runtime.db.is_sqlite:
        return  # the table dump above covers PostgreSQL
    _send_and_receive(tenant)
    path = Path(runtime.settings.database_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert len(raw) > 10_000
    for needle in _needles():
        assert needle not in raw, needle
