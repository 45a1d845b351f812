"""Per-subject data keys in Crypto: minting, caching, confirming, destroying."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from tidings.core.cache import LruCache
from tidings.core.crypto import Crypto, KeyUnavailable, key_id_of

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeKeyStore:
    """The data_keys table as dicts, counting lookups."""

    def __init__(self) -> None:
        self.wrapped: dict[str, bytes | None] = {}
        self.subject: dict[str, tuple[str, bytes]] = {}  # key id -> (account, subject index)
        self.subject_lookups = 0
        self.bulk_loads = 0

    def load(self, key_id: str) -> bytes | None:
        return self.wrapped.get(key_id)

    def load_many(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        self.bulk_loads += 1
        return {k: w for k in key_ids if (w := self.wrapped.get(k)) is not None}

    def find(self, account: str, indexes: Sequence[bytes]) -> dict[bytes, tuple[str, bytes]]:
        self.subject_lookups += 1
        found: dict[bytes, tuple[str, bytes]] = {}
        for key_id, (acc, index) in self.subject.items():
            wrapped = self.wrapped.get(key_id)
            if acc == account and index in indexes and wrapped is not None:
                found[index] = (key_id, wrapped)
        return found

    def keep(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """The vault: material stored as soon as a key is minted."""
        self.wrapped.update(keys)

    def store(self, rows: Sequence[dict[str, object]]) -> None:
        """The bookkeeping rows, stored with the data."""
        for row in rows:
            self.subject[str(row["id"])] = (str(row["account_id"]), row["subject_index"])  # type: ignore[assignment]

    def destroy(self, account: str, index: bytes) -> list[str]:
        ids = [k for k, (a, i) in self.subject.items() if a == account and i == index]
        for key_id in ids:
            self.wrapped[key_id] = None
            del self.subject[key_id]
        return ids


def make(master: bytes | None = None, **kw: object) -> tuple[Crypto, FakeKeyStore]:
    store = FakeKeyStore()
    crypto = Crypto(
        master or os.urandom(32),
        store.load,
        lambda account: "dk_account",
        load_wrapped_many=store.load_many,
        find_subject_keys=store.find,
        keep_wrapped=store.keep,
        **kw,  # type: ignore[arg-type]
    )
    store.wrapped["dk_account"] = crypto.new_wrapped_key("dk_account")
    return crypto, store


def test_each_subject_gets_its_own_key_and_the_account_keeps_its_own() -> None:
    crypto, store = make()
    alice, bob = crypto.blind_index("acc_1", "+31600000001"), crypto.blind_index("acc_1", "+2")
    keys = crypto.subject_keys("acc_1", [alice, bob, alice], NOW)
    assert set(keys) == {alice, bob}
    assert keys[alice].key_id != keys[bob].key_id
    assert keys[alice].row is not None and keys[alice].row["subject_index"] == alice
    assert "wrapped" not in keys[alice].row  # the material is in the vault, not the row
    assert keys[alice].key_id in store.wrapped and keys[bob].key_id in store.wrapped
    to_alice = crypto.encrypt("acc_1", "messages.body", "hi Alice", keys[alice])
    from_account = crypto.encrypt("acc_1", "messages.sender", "Acme")
    assert key_id_of(to_alice) == keys[alice].key_id
    assert key_id_of(from_account) == "dk_account"
    assert store.subject_lookups == 1  # one lookup for the whole batch


def test_minted_keys_are_reused_before_and_after_they_are_stored() -> None:
    crypto, store = make()
    alice = crypto.blind_index("acc_1", "+31600000001")
    first = crypto.subject_key("acc_1", alice, NOW)
    again = crypto.subject_key("acc_1", alice, NOW)
    assert again.key_id == first.key_id and again.row is not None  # still pending: carry row
    assert first.row is not None
    store.store([first.row])
    crypto.confirm([first.key_id])
    stored = crypto.subject_key("acc_1", alice, NOW)
    assert stored.key_id == first.key_id and stored.row is None


def test_a_new_process_finds_the_stored_key() -> None:
    master = os.urandom(32)
    crypto, store = make(master)
    alice = crypto.blind_index("acc_1", "+31600000001")
    key = crypto.subject_key("acc_1", alice, NOW)
    assert key.row is not None
    store.store([key.row])
    blob = crypto.encrypt("acc_1", "messages.body", "hello", key)
    other = Crypto(
        master, store.load, lambda a: None, load_wrapped_many=store.load_many,
        find_subject_keys=store.find, keep_wrapped=store.keep,
    )  # fmt: skip
    assert other.subject_key("acc_1", alice, NOW).key_id == key.key_id
    assert other.decrypt("acc_1", "messages.body", blob) == "hello"


def test_discarded_keys_are_not_used_again() -> None:
    crypto, _ = make()
    alice = crypto.blind_index("acc_1", "+31600000001")
    first = crypto.subject_key("acc_1", alice, NOW)
    crypto.discard([first.key_id])
    assert crypto.subject_key("acc_1", alice, NOW).key_id != first.key_id


def test_destroying_a_subject_key_shreds_only_that_subject() -> None:
    crypto, store = make()
    alice, bob = crypto.blind_index("acc_1", "+1"), crypto.blind_index("acc_1", "+2")
    keys = crypto.subject_keys("acc_1", [alice, bob], NOW)
    store.store([k.row for k in keys.values() if k.row])
    crypto.confirm([k.key_id for k in keys.values()])
    a = crypto.encrypt("acc_1", "messages.body", "for alice", keys[alice])
    b = crypto.encrypt("acc_1", "messages.body", "for bob", keys[bob])
    for key_id in store.destroy("acc_1", alice):
        crypto.forget(key_id)
    with pytest.raises(KeyUnavailable):
        crypto.decrypt("acc_1", "messages.body", a)
    assert crypto.decrypt("acc_1", "messages.body", b) == "for bob"
    # The subject may come back later: a fresh key, unrelated to the destroyed one.
    assert crypto.subject_key("acc_1", alice, NOW).key_id != keys[alice].key_id


def test_a_key_destroyed_elsewhere_stops_working_once_the_cache_entry_expires() -> None:
    ticks = [0.0]
    crypto, store = make(cache_seconds=60.0, monotonic=lambda: ticks[0])
    alice = crypto.blind_index("acc_1", "+1")
    key = crypto.subject_key("acc_1", alice, NOW)
    assert key.row is not None
    store.store([key.row])
    crypto.confirm([key.key_id])
    blob = crypto.encrypt("acc_1", "messages.body", "hello", key)
    store.destroy("acc_1", alice)  # another process erased the subject
    assert crypto.decrypt("acc_1", "messages.body", blob) == "hello"  # cached for now
    ticks[0] = 61.0
    with pytest.raises(KeyUnavailable):
        crypto.decrypt("acc_1", "messages.body", blob)


def test_preload_loads_many_keys_in_one_query() -> None:
    master = os.urandom(32)
    crypto, store = make(master)
    indexes = [crypto.blind_index("acc_1", f"+3160000{i:04}") for i in range(50)]
    keys = crypto.subject_keys("acc_1", indexes, NOW)
    store.store([k.row for k in keys.values() if k.row])
    blobs = [crypto.encrypt("acc_1", "messages.body", "x", k) for k in keys.values()]
    reader = Crypto(master, lambda k: pytest.fail("loaded one by one"), lambda a: None,
                    load_wrapped_many=store.load_many)  # fmt: skip
    reader.preload(blobs)
    assert store.bulk_loads == 1
    assert {reader.decrypt("acc_1", "messages.body", b) for b in blobs} == {"x"}


def test_a_batch_loads_its_keys_in_one_query_and_decrypts_like_decrypt() -> None:
    master = os.urandom(32)
    crypto, store = make(master)
    indexes = [crypto.blind_index("acc_1", f"+3160000{i:04}") for i in range(20)]
    keys = crypto.subject_keys("acc_1", indexes, NOW)
    store.store([k.row for k in keys.values() if k.row])
    blobs = [
        crypto.encrypt("acc_1", "messages.body", f"m{i}", k) for i, k in enumerate(keys.values())
    ]
    gone = crypto.subject_key("acc_1", b"e" * 16, NOW)
    erased = crypto.encrypt("acc_1", "messages.body", "gone", gone)
    store.wrapped[gone.key_id] = None  # destroyed
    reader = Crypto(master, store.load, lambda a: None, load_wrapped_many=store.load_many)
    batch = reader.batch([*blobs, erased, None])
    assert store.bulk_loads == 1
    assert [batch.decrypt("acc_1", "messages.body", b) for b in blobs] == [
        f"m{i}" for i in range(20)
    ]
    assert store.bulk_loads == 1  # nothing loaded one by one either
    with pytest.raises(KeyUnavailable):  # its key was destroyed
        batch.decrypt("acc_1", "messages.body", erased)
    with pytest.raises(KeyUnavailable):  # bound to its account and column
        batch.decrypt("acc_2", "messages.body", blobs[0])
    with pytest.raises(KeyUnavailable):
        batch.decrypt("acc_1", "messages.recipient", blobs[0])
    with pytest.raises(KeyUnavailable):
        batch.decrypt("acc_1", "messages.body", b"")


def test_the_key_cache_is_bounded() -> None:
    crypto, store = make(cache_size=10)
    indexes = [crypto.blind_index("acc_1", f"+{i}") for i in range(25)]
    keys = crypto.subject_keys("acc_1", indexes, NOW)
    store.store([k.row for k in keys.values() if k.row])
    crypto.confirm([k.key_id for k in keys.values()])
    assert len(crypto._raw) == 10 and len(crypto._subjects) == 10 and len(crypto._hot) <= 10


def test_lru_evicts_the_least_recently_used_and_expires() -> None:
    ticks = [0.0]
    cache: LruCache[str, int] = LruCache(2, 5.0, lambda: ticks[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    ticks[0] = 6.0
    assert cache.get("a") is None
    with pytest.raises(ValueError):
        LruCache(0, 1.0)


def test_lru_put_many_is_put_of_each_in_turn() -> None:
    ticks = [0.0]
    cache: LruCache[str, int] = LruCache(3, 5.0, lambda: ticks[0])
    cache.put("a", 1)
    ticks[0] = 1.0
    cache.put_many([("b", 2), ("a", 10), ("c", 3), ("d", 4)])
    # "b" was the least recently used when "d" came; "a" was refreshed by the batch
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), cache.get("d")) == (10, 3, 4)
    ticks[0] = 6.5  # 5.5 s after the batch: all of it expired together
    assert cache.get("a") is None and cache.get("d") is None
