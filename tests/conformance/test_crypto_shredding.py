"""Crypto-shredding reaches backups: a copy of the database taken before an erasure, restored
after it, still holds the erased subject's ciphertexts and key records, yet they cannot be
decrypted, because the key material lived in the key vault and is gone; every other
subject's data in the same copy reads as before.

SQLite: the database file is copied (SQLite's online backup) and the copy is opened.
PostgreSQL: `pg_dump -Fc` of the database, `pg_restore` into a new database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from tests.api.helpers import wait_for_status
from tests.conftest import fresh_postgres_database, service_missing
from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.core.crypto import KeyUnavailable
from tidings.core.errors import Conflict
from tidings.runtime import Runtime, build_runtime
from tidings.store.messages import messages_with_body
from tidings.store.tables import data_keys, messages

ALICE = "+31612345678"
BOB = "+31687654321"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def backup_then_restore(runtime: Runtime, tmp_path: Path) -> Iterator[Any]:
    """Yields `restore()`: call it after the erasure to get a database URL holding the copy
    taken when this context was entered."""
    url = runtime.settings.database_url
    if runtime.db.is_sqlite:
        copy = tmp_path / "backup.db"
        source = sqlite3.connect(make_url(url).database or "")
        target = sqlite3.connect(copy)
        with target:
            source.backup(target)
        source.close()
        target.close()

        def restore_sqlite() -> str:
            restored = tmp_path / "restored.db"
            shutil.copyfile(copy, restored)
            return f"sqlite:///{restored}"

        yield restore_sqlite
        return
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        service_missing("pg_dump/pg_restore are not installed: cannot take a PostgreSQL backup")
    dump = tmp_path / "backup.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), _libpq(url)], check=True)
    with fresh_postgres_database("tidings_restore") as restored_url:

        def restore_postgres() -> str:
            subprocess.run(
                ["pg_restore", "--no-owner", "-d", _libpq(restored_url), str(dump)], check=True
            )
            return restored_url

        yield restore_postgres


@contextlib.contextmanager
def runtime_on(runtime: Runtime, url: str, clock: ManualClock) -> Iterator[Runtime]:
    """The same installation (master key, key vault) on the restored database."""
    restored = build_runtime(dataclasses.replace(runtime.settings, database_url=url), clock)
    try:
        yield restored
    finally:
        restored.close()


def _send(tenant: Tenant, to: str, body: str) -> str:
    sent = tenant.post("/v1/messages", {"to": to, "from": "Acme", "body": body})
    assert sent.status_code == 202, sent.text
    message_id: str = sent.json()["id"]
    wait_for_status(tenant, message_id, "delivered")
    return message_id


def _operator(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    key = runtime.accounts.create_api_key(tenant.account_id, "o", ["operator"], allow_operator=True)
    return {"Authorization": f"Bearer {key['api_key']}"}


@pytest.mark.promise("BSMS-02")
@pytest.mark.promise("BG-12")
def test_an_erased_subject_stays_unreadable_in_a_backup_restored_later(
    client: TestClient, tenant: Tenant, runtime: Runtime, clock: ManualClock, tmp_path: Path
) -> None:
    alice_message = _send(tenant, ALICE, "Alice's appointment is on Friday")
    bob_message = _send(tenant, BOB, "Bob's parcel is on its way")
    with backup_then_restore(runtime, tmp_path) as restore:
        erased = client.post(
            "/v1/admin/privacy/erasures",
            json={"account_id": tenant.account_id, "subject": ALICE},
            headers=_operator(runtime, tenant),
        )
        assert erased.status_code == 201, erased.text
        with runtime_on(runtime, restore(), clock) as restored:
            with restored.db.read() as conn:
                alice_row = conn.execute(
                    messages_with_body.where(messages.c.id == alice_message)
                ).one()
                alice_index = runtime.crypto.blind_index(tenant.account_id, ALICE)
                key_rows = conn.execute(
                    select(data_keys).where(data_keys.c.subject_index == alice_index)
                ).all()
            # The copy is from before the erasure: ciphertexts, index and key record are there...
            assert bytes(alice_row.recipient_index) == alice_index
            assert len(key_rows) == 1 and key_rows[0].destroyed_at is None
            # ...but neither the number nor the body can be decrypted any more.
            for column, blob in (
                ("messages.recipient", alice_row.recipient_enc),
                ("messages.body", alice_row.body_enc),
            ):
                with pytest.raises(KeyUnavailable):
                    restored.crypto.decrypt(tenant.account_id, column, blob)
            alice = restored.queries.get(tenant.account_id, alice_message)
            assert alice["data_erased"] is True and alice["to"] is None and alice["body"] is None
            bob = restored.queries.get(tenant.account_id, bob_message)
            assert bob["to"] == BOB and bob["body"] == "Bob's parcel is on its way"
            assert bob["data_erased"] is False
            listed = restored.queries.list(
                tenant.account_id,
                status=None,
                to=None,
                since=None,
                until=None,
                cursor=None,
                limit=50,
            )
            assert {m["id"]: m["data_erased"] for m in listed["data"]} == {
                alice_message: True,
                bob_message: False,
            }


@pytest.mark.promise("BSMS-17")
def test_a_closed_and_erased_account_is_unreadable_in_its_backup(
    client: TestClient,
    tenant: Tenant,
    other_tenant: Tenant,
    runtime: Runtime,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    closing = _send(tenant, ALICE, "Acme's last message")
    staying = _send(other_tenant, ALICE, "Globex keeps going")
    ops = _operator(runtime, other_tenant)
    with backup_then_restore(runtime, tmp_path) as restore:
        erased = client.post(
            "/v1/admin/privacy/erasures",
            json={"account_id": tenant.account_id, "whole_account": True},
            headers=ops,
        )
        assert erased.status_code == 201, erased.text
        assert erased.json()["scope"] == "account" and erased.json()["keys_destroyed"] == 2
        assert tenant.get("/v1/account").status_code == 401  # its keys are revoked
        with pytest.raises(Conflict):  # and it takes no new ones
            runtime.accounts.create_api_key(tenant.account_id, "again", ["messages:read"])
        with runtime_on(runtime, restore(), clock) as restored:
            gone = restored.queries.get(tenant.account_id, closing)
            assert gone["data_erased"] is True
            assert (gone["from"], gone["to"], gone["body"]) == (None, None, None)
            assert restored.accounts.get_account(tenant.account_id)["name"] is None
            kept = restored.queries.get(other_tenant.account_id, staying)
            assert kept["body"] == "Globex keeps going" and kept["from"] == "Acme"
            assert restored.accounts.get_account(other_tenant.account_id)["name"] == "Globex"
