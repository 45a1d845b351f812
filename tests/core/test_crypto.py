from __future__ import annotations

import base64
import hmac
import os
import pickle
import stat
import threading
from pathlib import Path

import pytest

from tidings.core.crypto import (
    Crypto,
    HmacSha256,
    KeyUnavailable,
    NoncePool,
    load_or_create_master_key,
    parse_master_key,
    private_file,
)
from tidings.core.errors import ConfigError
from tidings.runtime import Runtime


def make_crypto(master: bytes | None = None) -> tuple[Crypto, dict[str, bytes | None]]:
    store: dict[str, bytes | None] = {}
    crypto = Crypto(master or os.urandom(32), store.get, lambda account: "dk_a")
    store["dk_a"] = crypto.new_wrapped_key("dk_a")
    return crypto, store


def test_round_trip_and_ciphertexts_differ() -> None:
    crypto, _ = make_crypto()
    first = crypto.encrypt("acc_1", "messages.body", "hello")
    second = crypto.encrypt("acc_1", "messages.body", "hello")
    assert first != second
    assert b"hello" not in first
    assert crypto.decrypt("acc_1", "messages.body", first) == "hello"


def test_ciphertext_is_bound_to_account_and_column() -> None:
    crypto, _ = make_crypto()
    blob = crypto.encrypt("acc_1", "messages.body", "hello")
    with pytest.raises(KeyUnavailable):
        crypto.decrypt("acc_2", "messages.body", blob)
    with pytest.raises(KeyUnavailable):
        crypto.decrypt("acc_1", "messages.sender", blob)


def test_destroyed_key_makes_data_unreadable() -> None:
    crypto, store = make_crypto()
    blob = crypto.encrypt("acc_1", "messages.body", "hello")
    store["dk_a"] = None
    crypto.forget("dk_a")
    with pytest.raises(KeyUnavailable):
        crypto.decrypt("acc_1", "messages.body", blob)
    assert crypto.decrypt_or_none("acc_1", "messages.body", blob) is None


def test_wrong_master_key_cannot_unwrap() -> None:
    crypto, store = make_crypto()
    blob = crypto.encrypt("acc_1", "messages.body", "hello")
    other = Crypto(os.urandom(32), store.get, lambda account: "dk_a")
    with pytest.raises(KeyUnavailable):
        other.decrypt("acc_1", "messages.body", blob)


def test_blind_index_is_keyed_deterministic_and_scoped() -> None:
    master = os.urandom(32)
    crypto, _ = make_crypto(master)
    again, _ = make_crypto(master)
    stranger, _ = make_crypto()
    value = "+31612345678"
    assert crypto.blind_index("acc_1", value) == again.blind_index("acc_1", value)
    assert crypto.blind_index("acc_1", value) != crypto.blind_index("acc_2", value)
    assert crypto.blind_index("acc_1", value) != stranger.blind_index("acc_1", value)
    assert len(crypto.blind_index("acc_1", value)) == 16


@pytest.mark.parametrize("key_size", [0, 16, 32, 64, 65, 200])
def test_hmac_with_precomputed_key_states_is_hmac(key_size: int) -> None:
    key = os.urandom(key_size)
    mac = HmacSha256(key)
    for data in (b"", b"+31612345678", os.urandom(1000)):
        assert mac.digest(data) == hmac.digest(key, data, "sha256")


def test_an_account_sealer_writes_what_the_crypto_reads_and_nothing_else() -> None:
    crypto, _ = make_crypto()
    sealer = pickle.loads(pickle.dumps(crypto.account_sealer("acc_1")))  # as a worker gets it
    blobs = [sealer.encrypt("acc_1", "contacts.first_name", f"Ana {i}") for i in range(1500)]
    assert len(set(blobs)) == 1500  # fresh nonces, past one draw of them
    assert [crypto.decrypt("acc_1", "contacts.first_name", b) for b in blobs[::499]] == [
        "Ana 0",
        "Ana 499",
        "Ana 998",
        "Ana 1497",
    ]
    assert sealer.blind_index("acc_1", "+31612345678") == crypto.blind_index(
        "acc_1", "+31612345678"
    )
    with pytest.raises(KeyUnavailable):
        sealer.encrypt("acc_2", "contacts.first_name", "Bo")
    with pytest.raises(KeyUnavailable):
        sealer.blind_index("acc_2", "+31612345678")


def test_master_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_master_key(None, tmp_path)
    mode = stat.S_IMODE((tmp_path / "master.key").stat().st_mode)
    assert mode == 0o600
    assert load_or_create_master_key(None, tmp_path) == first
    assert len(first) == 32


def test_key_vault_file_in_the_data_dir_is_private(runtime: Runtime) -> None:
    vault = runtime.settings.data_dir / "keys.db"
    assert vault.exists()
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    assert private_file(runtime.settings.data_dir, "keys.db") == vault  # an existing one stays


def test_master_key_from_environment_wins(tmp_path: Path) -> None:
    key = os.urandom(32)
    assert load_or_create_master_key(base64.b64encode(key).decode(), tmp_path) == key
    assert not (tmp_path / "master.key").exists()


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_bad_master_keys_are_refused_with_advice(bad: str) -> None:
    with pytest.raises(ConfigError, match="TIDINGS_MASTER_KEY"):
        parse_master_key(bad)


def test_nonces_are_never_repeated_across_draws_threads_or_a_fork() -> None:
    pool = NoncePool()
    first = [pool.take() for _ in range(2500)]  # past two draws of 1,024
    assert len(set(first)) == 2500 and {len(n) for n in first} == {12}

    from_threads: list[list[bytes]] = [[], []]

    def draw(into: list[bytes]) -> None:
        into.extend(pool.take() for _ in range(1100))

    threads = [threading.Thread(target=draw, args=(into,)) for into in from_threads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = first + from_threads[0] + from_threads[1]
    assert len(set(seen)) == len(seen)

    # A forked child must not take the nonces its parent drew and has not used yet.
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, b"".join(pool.take() for _ in range(4)))
        os._exit(0)
    os.close(write)
    from_child = os.read(read, 48)
    os.close(read)
    os.waitpid(child, 0)
    parents = b"".join(pool.take() for _ in range(4))
    assert len(from_child) == 48 and from_child != parents
    assert {from_child[i : i + 12] for i in range(0, 48, 12)}.isdisjoint(
        {parents[i : i + 12] for i in range(0, 48, 12)}
    )
