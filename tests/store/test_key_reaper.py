"""Keys whose material reached the vault but whose transaction never committed (it failed,
or its process died) are deleted once no transaction can still record them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.support import Tenant
from tidings.core.clock import ManualClock
from tidings.pipeline.accept import MessageRequest
from tidings.runtime import Runtime
from tidings.store import messages as message_store
from tidings.store.keys import UNRECORDED_GRACE
from tidings.store.tables import data_keys
from tidings.store.vault import vault_keys


def _vault_ids(runtime: Runtime) -> set[str]:
    with runtime.key_ring.vault.db.read() as conn:
        return set(conn.execute(select(vault_keys.c.id)).scalars())


def _recorded_count(runtime: Runtime) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(data_keys)).scalar_one())


def _batch(first: int, size: int) -> list[MessageRequest]:
    return [
        MessageRequest(to=f"+3161{n:07d}", sender="Acme", body=f"Code {n}")
        for n in range(first, first + size)
    ]


def test_a_failed_batchs_keys_are_reaped_after_the_grace_and_nothing_else(
    tenant: Tenant, runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted, _ = runtime.accept.accept_batch(tenant.account_id, _batch(0, 5))
    kept = _vault_ids(runtime)
    assert len(kept) == 6 == _recorded_count(runtime)  # the account's key and 5 subjects'

    def dies(*_args: object) -> None:
        raise RuntimeError("the transaction died")

    monkeypatch.setattr(message_store, "insert_outbound", dies)
    with pytest.raises(RuntimeError):
        runtime.accept.accept_batch(tenant.account_id, _batch(100, 300))
    monkeypatch.undo()
    orphans = _vault_ids(runtime) - kept
    assert len(orphans) == 300 and _recorded_count(runtime) == 6  # material, no record

    clock.advance(UNRECORDED_GRACE - timedelta(seconds=1))
    assert runtime.key_ring.reap_unrecorded(clock.now()) == 0  # might still be recorded
    assert _vault_ids(runtime) == kept | orphans

    clock.advance(timedelta(seconds=2))
    assert runtime.key_ring.reap_unrecorded(clock.now()) == 300
    assert _vault_ids(runtime) == kept
    assert runtime.key_ring.reap_unrecorded(clock.now()) == 0  # it goes on where it ended

    # The recorded keys still open their data; the failed batch sends anew with new keys.
    first = tenant.get(f"/v1/messages/{accepted[0]['id']}").json()
    assert (first["to"], first["body"]) == ("+31610000000", "Code 0")
    again, errors = runtime.accept.accept_batch(tenant.account_id, _batch(100, 300))
    assert len(again) == 300 and errors == []
    last = tenant.get(f"/v1/messages/{again[-1]['id']}").json()
    assert (last["to"], last["body"]) == ("+31610000399", "Code 399")
    clock.advance(UNRECORDED_GRACE * 2)
    assert runtime.key_ring.reap_unrecorded(clock.now()) == 0
    assert len(_vault_ids(runtime)) == 306 == _recorded_count(runtime)
