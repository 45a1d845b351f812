"""Kannel, a C gateway, bound to our SMPP server: a message sent through Kannel's sendsms
HTTP interface arrives in Tidings, and its receipt returns to Kannel as a DLR callback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_missing
from tests.smpp_server.conftest import Login, ServerThread
from tests.smpp_server.kannel import callback_receiver, kannel_binary, run_kannel
from tests.support import wait_until
from tidings.runtime import Runtime

TIMEOUT = 30.0
DLR_DELIVERED = "1"


@pytest.fixture
def kannel_present() -> None:
    if not (kannel_binary("bearerbox") and kannel_binary("smsbox")):
        service_missing("Kannel is not installed (apt-get install kannel); required in CI")


def _send(kannel: Any, dlr_url: str, **params: str) -> httpx.Response:
    deadline = time.monotonic() + TIMEOUT
    while True:  # smsbox opens its port a moment after it starts
        try:
            return httpx.get(
                kannel.sendsms_url,
                params={
                    "username": kannel.username,
                    "password": kannel.password,
                    "dlr-mask": "3",
                    "dlr-url": dlr_url,
                    **params,
                },
                timeout=10,
            )
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_kannel_sends_through_us_and_gets_the_receipt(
    kannel_present: None, smpp: ServerThread, login: Login, runtime: Runtime, tmp_path: Path
) -> None:
    assert smpp.server is not None
    with (
        callback_receiver() as (dlr_base, callbacks),
        run_kannel(tmp_path, smpp.port, login.system_id, login.password) as kannel,
    ):
        try:
            wait_until(
                lambda: smpp.server is not None and smpp.server.sessions(login.account_id),
                timeout=TIMEOUT,
                message="Kannel's bind",
            )
            texts = {"short": "Hello through Kannel", "long": "Привет через Kannel! " * 9}
            for name, text in texts.items():
                response = _send(
                    kannel,
                    f"{dlr_base}?name={name}&type=%d&smsc_id=%F",
                    **{"from": "Acme", "to": "+31612345678", "text": text},
                    **({"coding": "2", "charset": "UTF-8"} if name == "long" else {}),
                )
                assert response.status_code == 202, response.text

            def arrived() -> dict[str, dict[str, Any]] | None:
                page = runtime.queries.list(
                    login.account_id,
                    status=None,
                    to=None,
                    since=None,
                    until=None,
                    cursor=None,
                    limit=10,
                )["data"]
                bodies = {m["body"]: m for m in page}
                found = {name: bodies.get(text) for name, text in texts.items()}
                return found if all(found.values()) else None  # type: ignore[return-value]

            messages = wait_until(arrived, timeout=TIMEOUT, message="the messages in Tidings")
            assert messages["short"]["from"] == "Acme"
            assert messages["short"]["to"] == "+31612345678"
            assert messages["long"]["segments"] >= 3  # Kannel split it; we joined it

            def receipts() -> dict[str, dict[str, str]] | None:
                with callbacks.arrived:
                    done = {
                        c["name"]: c for c in callbacks.received if c.get("type") == DLR_DELIVERED
                    }
                return done if len(done) == len(texts) else None

            dlrs = wait_until(receipts, timeout=TIMEOUT, message="Kannel's DLR callbacks")
            for name in texts:
                assert dlrs[name]["smsc_id"] == messages[name]["id"]
        except AssertionError as error:
            seen = runtime.queries.list(
                login.account_id,
                status=None,
                to=None,
                since=None,
                until=None,
                cursor=None,
                limit=10,
            )["data"]
            summary = [(m["body"], m["status"], m["segments"]) for m in seen]
            raise AssertionError(
                f"{error}\nmessages: {summary}\ncallbacks: {callbacks.received}\n{kannel.logs()}"
            ) from error
