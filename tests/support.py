"""Helpers for tests: an account with a key, and polling for pipeline outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from tidings.pipeline.accept import MessageRequest
from tidings.runtime import Runtime
from tidings.store.tables import metadata


class Tenant:
    def __init__(self, client: TestClient, runtime: Runtime, name: str) -> None:
        account = runtime.accounts.create_account(name)
        self.account_id: str = account["account_id"]
        self.key: str = runtime.accounts.create_api_key(
            self.account_id, "test", ["messages:send", "messages:read", "admin"]
        )["api_key"]
        self.headers = {"Authorization": f"Bearer {self.key}"}
        self.client = client

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(
            path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.put(path, json=json, headers=self.headers, **kw)


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, message: str = "condition"
) -> Any:
    """Poll a pipeline outcome (worker threads are real; retention logic never sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.01)


def accept_one(runtime: Runtime, to: str = "+31612345678") -> str:
    """Accept one message for a new account straight through the pipeline (no HTTP, no
    workers): its id. The dispatcher's work is left for the test to drive."""
    account = runtime.accounts.create_account("Acme")["account_id"]
    accepted, errors = runtime.accept.accept_batch(
        account, [MessageRequest(to=to, sender="Acme", body="Your code is 1234")]
    )
    assert not errors, errors
    message_id: str = accepted[0]["id"]
    return message_id


def message_row(message_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """A `messages` row with every column a row needs, for tests that write rows straight
    to the table; `fields` add columns or replace these."""
    return {
        "id": message_id,
        "account_id": "acc_test",
        "direction": "outbound",
        "channel": "sms",
        "sender_index": b"s",
        "recipient_index": b"r",
        "encoding": "gsm7",
        "segments": 1,
        "status": "queued",
        "attempts": 0,
        "created_at": at,
        "updated_at": at,
        **fields,
    }


def raw_tables(runtime: Runtime) -> bytes:
    """Every value of every table as the database returns it, without the application's
    decryption: what a stolen database or backup would show."""
    dump = bytearray()
    with runtime.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(text(f"SELECT * FROM {table.name}")):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        dump += bytes(value)
                    elif value is not None:
                        dump += str(value).encode()
    return bytes(dump)
