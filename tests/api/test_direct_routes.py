"""The send routes the front middleware calls itself answer exactly as FastAPI's routing
of the same endpoints does: every status, problem and header, errors included."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import TO, VALID
from tests.support import Tenant
from tidings.api.routers import messages
from tidings.runtime import Runtime

Call = Callable[[Tenant], Any]
PROGRESS = {"status", "status_history", "sent_at", "delivered_at", "parts", "price"}
HEADERS = ("content-type", "content-length", "www-authenticate", "idempotent-replayed")


@contextmanager
def routed_by_fastapi(client: TestClient) -> Iterator[None]:
    front = client.app.front  # type: ignore[attr-defined]
    direct, front.direct = front.direct, {}
    try:
        yield
    finally:
        front.direct = direct


def _answer(response: Any) -> tuple[Any, ...]:
    content_type = response.headers.get("content-type", "")
    body = _without_ids(response.json()) if "json" in content_type else response.text
    headers = {name: response.headers.get(name) for name in HEADERS}
    if response.headers.get("idempotent-replayed"):  # the message as it is now: it moves on
        body = {k: v for k, v in body.items() if k not in PROGRESS}
        del headers["content-length"]
    return response.status_code, body, headers, response.headers["x-request-id"]


def _without_ids(value: Any) -> Any:
    """Each accepted message gets a new id; everything else (the clock too) is the same."""
    if isinstance(value, dict):
        return {k: "<id>" if k == "id" else _without_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _post(path: str, body: Any = None, **headers: str) -> Call:
    def call(tenant: Tenant) -> Any:
        sent = {**tenant.headers, "X-Request-Id": "req-1", **headers}
        if isinstance(body, bytes):
            return tenant.client.post(path, content=body, headers=sent)
        return tenant.client.post(path, json=body, headers=sent)

    return call


def _replayed(tenant: Tenant) -> Any:
    """A send with a new Idempotency-Key, then its repeat (answered 200, replayed)."""
    key = f"k-{next(_keys)}"
    first = _post(SINGLE, VALID, **{"Idempotency-Key": key})(tenant)
    assert first.status_code == 202
    return _post(SINGLE, VALID, **{"Idempotency-Key": key})(tenant)


_keys = itertools.count()
SINGLE = messages.router.prefix
BATCH = f"{messages.router.prefix}/batch"
CASES: dict[str, Call] = {
    "accepted": _post(SINGLE, VALID),
    "accepted with every field": _post(
        SINGLE,
        {
            **VALID,
            "channel": "sms",
            "send_at": "2026-03-02T12:00:00+01:00",
            "validity_seconds": 600,
            "status_callback": "https://example.com/cb",
            "reference": "r-1",
            "purpose": "transactional",
        },
    ),
    "idempotent": _replayed,
    "bad idempotency key": _post(SINGLE, VALID, **{"Idempotency-Key": "k\x7f"}),
    "no key": _post(SINGLE, VALID, Authorization=""),
    "unknown key": _post(SINGLE, VALID, Authorization="Bearer tdk_x_y"),
    "malformed json": _post(SINGLE, b"{not json"),
    "not an object": _post(SINGLE, [1, 2]),
    "empty body": _post(SINGLE, b""),
    "unknown field": _post(SINGLE, {**VALID, "colour": "red"}),
    "missing field": _post(SINGLE, {"to": TO}),
    "wrong type": _post(SINGLE, {**VALID, "validity_seconds": "soon"}),
    "control character": _post(SINGLE, {**VALID, "from": "Ac\x01me"}),
    "bad number": _post(SINGLE, {**VALID, "to": "12"}),
    "consent needed": _post(SINGLE, {**VALID, "purpose": "marketing"}),
    "batch accepted": _post(BATCH, {"messages": [VALID, {**VALID, "to": "+31612345679"}]}),
    "batch in part": _post(BATCH, {"messages": [VALID, {**VALID, "to": "12"}, {"to": TO}]}),
    "batch shared body": _post(BATCH, {**VALID, "to": [TO, "+31612345679"]}),
    "batch rejected": _post(BATCH, {"messages": [{"to": TO}, {**VALID, "x": 1}]}),
    "batch empty": _post(BATCH, {"messages": []}),
    "batch extra field": _post(BATCH, {"messages": [VALID], "colour": "red"}),
    "batch not a list": _post(BATCH, {"messages": VALID}),
    "batch not an object": _post(BATCH, [VALID]),
    "batch malformed": _post(BATCH, b"[{"),
    "batch no key": _post(BATCH, {"messages": [VALID]}, Authorization=""),
}


@pytest.mark.parametrize("case", CASES)
def test_direct_route_answers_as_fastapi_routing(tenant: Tenant, case: str) -> None:
    call = CASES[case]
    direct = _answer(call(tenant))
    with routed_by_fastapi(tenant.client):
        routed = _answer(call(tenant))
    assert direct == routed


def test_scope_and_unexpected_errors_answer_alike(
    client: TestClient, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = runtime.accounts.create_api_key(tenant.account_id, "reader", ["messages:read"])
    for call in (
        _post(SINGLE, VALID, Authorization=f"Bearer {reader['api_key']}"),
        _post(BATCH, {"messages": [VALID]}, Authorization=f"Bearer {reader['api_key']}"),
    ):
        direct = _answer(call(tenant))
        with routed_by_fastapi(client):
            assert _answer(call(tenant)) == direct
        assert direct[0] == 403

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("broken")

    monkeypatch.setattr(runtime.accept, "accept_async", broken)
    direct = _answer(_post(SINGLE, VALID)(tenant))
    with routed_by_fastapi(client):
        routed = _answer(_post(SINGLE, VALID)(tenant))
    assert direct[0] == 500 and direct[1]["code"] == "internal_error"
    assert direct[:3] == routed[:3]


def test_the_send_routes_are_direct(client: TestClient) -> None:
    direct = client.app.front.direct  # type: ignore[attr-defined]
    assert set(direct) == {("POST", SINGLE), ("POST", BATCH)}
