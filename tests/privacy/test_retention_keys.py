"""The sweep's anonymise action is the Anonymiser's, and what the sweep deletes takes its
keys with it: a subject's key once its last message is gone (unless held), a closed
account's keys from the key vault."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.privacy.retention_support import (
    TO,
    at,
    close_account,
    count,
    message_at,
    message_row,
    readable,
    service,
    with_action,
)
from tidings.core.clock import ManualClock
from tidings.core.errors import ConfigError
from tidings.privacy.policy import load_preset
from tidings.privacy.retention import build_plan
from tidings.runtime import Runtime
from tidings.store import keys as key_store
from tidings.store.erasures import UNLINKED_INDEX
from tidings.store.tables import data_keys, metadata

OTHER = "+31612345679"


@pytest.fixture
def account(runtime: Runtime) -> str:
    return str(runtime.accounts.create_account("Acme")["account_id"])


def subject_keys(rt: Runtime, account_id: str, number: str) -> list[str]:
    index = rt.crypto.blind_index(account_id, number)
    with rt.db.read() as conn:
        return key_store.subject_key_ids(conn, account_id, index)


def deleting() -> object:
    return with_action(load_preset("baseline"), "message_metadata", action="delete", fields=())


def test_the_sweep_anonymises_as_the_anonymiser_does(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    old = message_at(runtime, clock, account, at(2026, 1, 1), to=TO)
    by_hand = message_at(runtime, clock, account, at(2026, 1, 1), to=OTHER)
    recent = message_at(runtime, clock, account, at(2026, 12, 1), to=OTHER)
    clock.set(at(2027, 1, 2))
    runtime.anonymiser.anonymise([by_hand])
    policy = with_action(load_preset("baseline"), "message_metadata", action="anonymise")
    sweep = service(runtime, policy)
    dry = sweep.sweep(at(2027, 1, 2), dry_run=True)
    report = sweep.sweep(at(2027, 1, 2))
    counts = {(e.rule, e.data_set, e.action): e.count for e in report.entries}
    assert counts[("message_metadata", "messages", "anonymise")] == 1  # not the one done by hand
    assert sorted(map(str, dry.entries)) == sorted(map(str, report.entries))
    swept, manual = message_row(runtime, old), message_row(runtime, by_hand)
    for name in ("sender_enc", "recipient_enc", "body_enc", "reference", "connector_message_id"):
        assert getattr(swept, name) is None and getattr(manual, name) is None, name
    for name in ("sender_index", "recipient_index"):
        assert bytes(getattr(swept, name)) == UNLINKED_INDEX == bytes(getattr(manual, name))
    assert swept.anonymised_at is not None and swept.region == manual.region
    assert subject_keys(runtime, account, TO) == []  # its only message: the key is gone
    assert subject_keys(runtime, account, OTHER) != []  # still protects the recent message
    assert readable(runtime.crypto, account, message_row(runtime, recent).body_enc)


def test_anonymising_a_data_set_that_cannot_be_is_a_config_error() -> None:
    policy = with_action(load_preset("baseline"), "webhook_delivery", action="anonymise")
    with pytest.raises(ConfigError, match="webhook_deliveries, which cannot be anonymised"):
        build_plan(policy, metadata)


def test_deleting_a_subjects_last_message_destroys_its_key_unless_held(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    gone = message_at(runtime, clock, account, at(2026, 1, 1), to=TO)
    kept_old = message_at(runtime, clock, account, at(2026, 1, 1), to=OTHER)
    kept_new = message_at(runtime, clock, account, at(2026, 12, 1), to=OTHER)
    held_number = "+31612345670"
    held = message_at(runtime, clock, account, at(2026, 1, 1), to=held_number)
    runtime.holds.create(account, subject=held_number, reason="dispute", authority="court")
    blob = message_row(runtime, gone).body_enc
    to_key = subject_keys(runtime, account, TO)
    assert to_key and runtime.erasure.vault.get(to_key)
    clock.set(at(2027, 1, 2))
    service(runtime, deleting()).sweep(at(2027, 1, 2))
    assert message_row(runtime, gone) is None and message_row(runtime, kept_old) is None
    assert subject_keys(runtime, account, TO) == []
    assert runtime.erasure.vault.get(to_key) == {}  # the material too: a backup cannot be read
    runtime.crypto.forget(to_key[0])
    assert not readable(runtime.crypto, account, blob)
    with runtime.db.read() as conn:  # the record stays, unlinked from the subject
        row = conn.execute(select(data_keys).where(data_keys.c.id == to_key[0])).one()
    assert row.destroyed_at is not None and row.subject_index is None
    assert subject_keys(runtime, account, OTHER) != []  # a later message still needs it
    assert readable(runtime.crypto, account, message_row(runtime, kept_new).body_enc)
    assert message_row(runtime, held) is not None  # held: the message and its key stay
    assert subject_keys(runtime, account, held_number) != []


def test_a_closed_account_swept_away_takes_its_keys_out_of_the_vault(
    runtime: Runtime, clock: ManualClock, account: str
) -> None:
    message_at(runtime, clock, account, at(2026, 1, 1), to=TO)
    close_account(runtime, account, at(2026, 1, 2))
    with runtime.db.read() as conn:
        ids = list(
            conn.execute(select(data_keys.c.id).where(data_keys.c.account_id == account)).scalars()
        )
    # the account's key and the subject's
    assert len(ids) == 2 and len(runtime.erasure.vault.get(ids)) == 2
    clock.set(at(2040, 1, 1) + timedelta(seconds=1))
    service(runtime, deleting()).sweep(at(2040, 1, 1))
    assert count(runtime, "accounts", id=account) == 0
    assert count(runtime, "data_keys", account_id=account) == 0
    assert runtime.erasure.vault.get(ids) == {}
