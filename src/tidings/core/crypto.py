"""Envelope encryption of personal data and keyed blind indexes for lookups.

master key -> data keys -> field ciphertexts. Every data key is wrapped directly by the
master key (AES-GCM, bound to the key's id); there are two kinds:

- the account key (one live per account): the account's own data (its name, webhook
  secret, its sender ids and numbers as they appear in messages, status webhooks);
- subject keys (one per data subject within an account, found by the subject's blind
  index): a message's body and the subject's number, and inbound webhook payloads.

Destroying a wrapped key makes every ciphertext under it unreadable, backups included.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tidings.core.cache import LruCache
from tidings.core.errors import ConfigError, TidingsError
from tidings.core.ids import new_ids

_FORMAT_VERSION = 1
_NONCE_BYTES = 12
MASTER_KEY_FILE = "master.key"


class KeyUnavailable(TidingsError):
    """The data key of a ciphertext is destroyed or unknown: the data is shredded.

    Read paths catch it and show the data as erased; anywhere else it still reaches a
    user as a clean 410 problem (or CLI error), never as a crash."""

    status = 410
    code = "data_erased"
    title = "Gone"

    def __init__(self, key_id: str) -> None:
        super().__init__(
            "this data was erased: its key is destroyed, so it can no longer be read or added to"
        )
        self.key_id = key_id


def parse_master_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(
            "TIDINGS_MASTER_KEY must be base64 of 32 random bytes "
            '(make one with: python -c "import os,base64;'
            'print(base64.b64encode(os.urandom(32)).decode())")'
        ) from exc
    if len(key) != 32:
        raise ConfigError(f"TIDINGS_MASTER_KEY decodes to {len(key)} bytes; it must be 32")
    return key


def private_file(directory: Path, name: str) -> Path:
    """A file only its owner may read (created empty with mode 0600 when missing), for
    secrets kept in the data dir beside the master key, like the key vault."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def load_or_create_master_key(env_value: str | None, data_dir: Path) -> bytes:
    """The master key from the environment, else from the data dir (created 0600 on first use)."""
    if env_value:
        return parse_master_key(env_value)
    path = data_dir / MASTER_KEY_FILE
    if path.exists():
        return parse_master_key(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


SUBJECT_SCOPE = "subject"
ACCOUNT_SCOPE = "account"
# Raw keys (about 100 bytes each in memory): far above one batch of 10,000 new subjects.
DEFAULT_KEY_CACHE_SIZE = 100_000
# Ready ciphers cost about 2.5 KB each (OpenSSL contexts): only the most recently used.
HOT_CIPHERS = 1024
# Another process that destroys a key (an erasure) is noticed at the latest this much later.
DEFAULT_KEY_CACHE_SECONDS = 60.0

_forks = 0  # how many forks led to this process: nonces drawn before one are not reused


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)


class NoncePool:
    """Random 96-bit AES-GCM nonces, drawn 1,024 at a time: one read of the system's
    random source instead of one per encryption. Each thread draws its own, and a forked
    child never uses what its parent drew."""

    def __init__(self) -> None:
        self._local = threading.local()

    def take(self) -> bytes:
        local = self._local
        used = getattr(local, "used", 0)
        pool: bytes = getattr(local, "pool", b"")
        if used == len(pool) or getattr(local, "forks", -1) != _forks:
            pool = local.pool = os.urandom(_NONCE_BYTES * 1024)
            local.forks = _forks
            used = 0
        local.used = used + _NONCE_BYTES
        return pool[used : used + _NONCE_BYTES]


_nonces = NoncePool()


@functools.lru_cache(maxsize=4096)
def _aad(account_id: str, column: str) -> bytes:
    """The associated data that binds a ciphertext to its account and column."""
    return f"{account_id}|{column}".encode()


@functools.lru_cache(maxsize=4096)
def _head(key_id: str) -> bytes:
    """A ciphertext's header: format version and the id of the key it was made under."""
    ref = key_id.encode()
    return bytes((_FORMAT_VERSION, len(ref))) + ref


WrappedLoader = Callable[[str], bytes | None]
ManyLoader = Callable[[Sequence[str]], dict[str, bytes]]
SubjectFinder = Callable[[str, Sequence[bytes]], dict[bytes, tuple[str, bytes]]]
KeyKeeper = Callable[[Sequence[tuple[str, bytes]]], None]


class SubjectKey(NamedTuple):  # a tuple: one is made for every message of a batch
    """The key a subject's fields are encrypted with. `row` is its `data_keys` row (the
    bookkeeping; the material is in the vault already) while the row may not be stored
    yet: every transaction that writes data under the key inserts the row too."""

    key_id: str
    cipher: AESGCM
    row: dict[str, Any] | None


class HmacSha256:
    """HMAC-SHA256 under one key, the same as `hmac.digest(key, data, "sha256")`, with the
    key's padded hash states computed once: several times faster for the short values
    of blind indexes, where setting up the key dominated."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def digest(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_SHA256_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def key_id_of(blob: bytes | None) -> str | None:
    """The data key id a ciphertext names (None for no or an unknown format)."""
    if not blob or blob[0] != _FORMAT_VERSION:
        return None
    return bytes(blob[2 : 2 + blob[1]]).decode()


class Crypto:
    """Field encryption under data keys, and blind indexes.

    `load_wrapped(key_id)` returns a wrapped data key, or None once destroyed;
    `active_key_id(account_id)` names the account key new account data is written with;
    `load_wrapped_many(ids)` loads several live keys at once; `find_subject_keys(account,
    subject_indexes)` maps each subject that has a live key to (key id, wrapped key);
    `keep_wrapped(keys)` stores new wrapped keys durably (the key vault) before any data
    is written under them.
    Unwrapped keys are kept in bounded LRU caches whose entries expire after
    `cache_seconds`, so a key destroyed by another process stops working here soon after
    (an erasure in this process forgets its keys at once).
    """

    def __init__(
        self,
        master_key: bytes,
        load_wrapped: WrappedLoader,
        active_key_id: Callable[[str], str | None],
        *,
        load_wrapped_many: ManyLoader | None = None,
        find_subject_keys: SubjectFinder | None = None,
        keep_wrapped: KeyKeeper | None = None,
        cache_size: int = DEFAULT_KEY_CACHE_SIZE,
        cache_seconds: float = DEFAULT_KEY_CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wrapping = AESGCM(_derive(master_key, b"tidings key wrapping v1"))
        self._index_root = _derive(master_key, b"tidings blind index v1")
        self._signing_root = _derive(master_key, b"tidings signatures v1")
        self._load_wrapped = load_wrapped
        self._load_many = load_wrapped_many
        self._find_subject_keys = find_subject_keys
        self._keep_wrapped = keep_wrapped
        self._active_key_id = active_key_id
        self._raw: LruCache[str, bytes] = LruCache(cache_size, cache_seconds, monotonic)
        self._hot: LruCache[str, AESGCM] = LruCache(
            min(HOT_CIPHERS, cache_size), cache_seconds, monotonic
        )
        self._subjects: LruCache[tuple[str, bytes], str] = LruCache(
            cache_size, cache_seconds, monotonic
        )
        # Keys minted here whose rows may not be committed yet: never evicted until then.
        self._pending: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._active: dict[str, tuple[str, AESGCM]] = {}  # account -> its key and cipher
        self._index_keys: dict[str, bytes] = {}
        self._index_macs: dict[str, HmacSha256] = {}
        self._lock = threading.Lock()
        self._mint_lock = threading.Lock()

    # --- data keys -------------------------------------------------------
    def new_wrapped_key(self, key_id: str) -> bytes:
        return self._mint(key_id)[0]

    def keep(self, keys: Sequence[tuple[str, bytes]]) -> None:
        """Store wrapped keys in the key vault (no-op without one)."""
        if self._keep_wrapped is not None and keys:
            self._keep_wrapped(keys)

    def _mint(self, key_id: str) -> tuple[bytes, bytes]:
        """(wrapped, raw) for a new key."""
        raw = os.urandom(32)
        return self._wrap(key_id, raw), raw

    def _wrap(self, key_id: str, raw: bytes) -> bytes:
        """A key's material as stored: under the master's wrapping key, bound to its id."""
        nonce = _nonces.take()
        return nonce + self._wrapping.encrypt(nonce, raw, key_id.encode())

    def remember(self, account_id: str, key_id: str, wrapped: bytes) -> None:
        """Use an account key that was just created (and whose row is not committed yet)."""
        raw = self._unwrap(key_id, wrapped)
        self._raw.put(key_id, raw)
        with self._lock:
            self._active[account_id] = (key_id, AESGCM(raw))

    def _raw_key(self, key_id: str) -> bytes:
        pending = self._pending.get(key_id)
        if pending is not None:
            return pending[1]
        raw = self._raw.get(key_id)
        if raw is not None:
            return raw
        wrapped = self._load_wrapped(key_id)
        if wrapped is None:
            raise KeyUnavailable(key_id)
        raw = self._unwrap(key_id, wrapped)
        self._raw.put(key_id, raw)
        return raw

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._hot.get(key_id)
        if cipher is None:
            cipher = AESGCM(self._raw_key(key_id))
            self._hot.put(key_id, cipher)
        return cipher

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        try:
            return self._wrapping.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], key_id.encode()
            )
        except InvalidTag as exc:
            raise KeyUnavailable(key_id) from exc

    def forget(self, key_id: str) -> None:
        """Drop a key from memory (after it is destroyed in storage)."""
        self._raw.pop(key_id)
        self._hot.pop(key_id)
        self._subjects.remove_where(lambda _, value: value == key_id)
        with self._lock:
            self._pending.pop(key_id, None)
            for account, (active, _) in list(self._active.items()):
                if active == key_id:
                    del self._active[account]

    def _account_cipher(self, account_id: str) -> tuple[str, AESGCM]:
        active = self._active.get(account_id)
        if active is None:
            key_id = self._active_key_id(account_id)
            if key_id is None:
                raise KeyUnavailable(f"no data key for {account_id}")
            active = (key_id, AESGCM(self._raw_key(key_id)))
            with self._lock:
                self._active[account_id] = active
        return active

    def preload(self, blobs: Iterable[bytes | None]) -> None:
        """Load the keys of many ciphertexts with one query instead of one each."""
        if self._load_many is None:
            return
        wanted = {key_id_of(blob) for blob in blobs}
        missing = [
            k
            for k in wanted
            if k is not None and k not in self._pending and self._raw.get(k) is None
        ]
        if not missing:
            return
        for key_id, wrapped in self._load_many(missing).items():
            self._raw.put(key_id, self._unwrap(key_id, wrapped))

    def batch(self, blobs: Iterable[bytes | None]) -> BatchDecrypter:
        """A decrypter for a batch of ciphertexts (a dispatcher's claim): their keys
        loaded with one query and each made a cipher once for the batch, without passing
        every key through the shared caches (in a batch of messages to many subjects most
        keys are used once). A key it does not hold decrypts as `decrypt` would."""
        raw: dict[str, bytes] = {}
        missing: list[str] = []
        for key_id in {key_id_of(blob) for blob in blobs}:
            if key_id is None:
                continue
            pending = self._pending.get(key_id)
            found = pending[1] if pending is not None else self._raw.get(key_id)
            if found is None:
                missing.append(key_id)
            else:
                raw[key_id] = found
        if missing and self._load_many is not None:
            for key_id, wrapped in self._load_many(missing).items():
                raw[key_id] = self._unwrap(key_id, wrapped)
        return BatchDecrypter(self, raw)

    # --- subject keys ----------------------------------------------------
    def subject_key(self, account_id: str, subject_index: bytes, now: datetime) -> SubjectKey:
        return self.subject_keys(account_id, [subject_index], now)[subject_index]

    def subject_keys(
        self, account_id: str, subject_indexes: Iterable[bytes], now: datetime
    ) -> dict[bytes, SubjectKey]:
        """The live key of each subject: cached, else stored, else minted (one lookup for
        all the cache misses). A minted key carries its row until `confirm`/`discard`."""
        found: dict[bytes, SubjectKey] = {}
        misses: list[bytes] = []
        for index in dict.fromkeys(subject_indexes):
            key = self._cached_subject(account_id, index)
            if key is None:
                misses.append(index)
            else:
                found[index] = key
        if misses and self._find_subject_keys is not None:
            for index, (key_id, wrapped) in self._find_subject_keys(account_id, misses).items():
                raw = self._unwrap(key_id, wrapped)
                self._raw.put(key_id, raw)
                self._subjects.put((account_id, index), key_id)
                found[index] = SubjectKey(key_id, AESGCM(raw), None)
        unknown = [index for index in misses if index not in found]
        if unknown:
            with self._mint_lock:  # two requests for one new subject get one key
                new: list[bytes] = []
                for index in unknown:
                    key = self._cached_subject(account_id, index)
                    if key is None:
                        new.append(index)
                    else:
                        found[index] = key
                minted = self._mint_subjects(account_id, new, now)
                for index, (key, _) in zip(new, minted, strict=True):
                    found[index] = key
                try:
                    self.keep([(key.key_id, wrapped) for key, wrapped in minted])
                except BaseException:
                    self.discard([key.key_id for key, _ in minted])
                    raise
        return found

    def _cached_subject(self, account_id: str, index: bytes) -> SubjectKey | None:
        key_id = self._subjects.get((account_id, index))
        if key_id is None:
            return None
        pending = self._pending.get(key_id)
        if pending is not None:
            return SubjectKey(key_id, AESGCM(pending[1]), pending[0])
        raw = self._raw.get(key_id)
        return None if raw is None else SubjectKey(key_id, AESGCM(raw), None)

    def _mint_subjects(
        self, account_id: str, indexes: Sequence[bytes], now: datetime
    ) -> list[tuple[SubjectKey, bytes]]:
        """A new key for each subject, with its wrapped form; ids and random bytes are
        drawn for all of them at once."""
        count = len(indexes)
        if not count:
            return []
        key_ids = new_ids("dk", now, count)
        randomness = os.urandom(32 * count)
        minted: list[tuple[SubjectKey, bytes]] = []
        pending: dict[str, tuple[dict[str, Any], bytes]] = {}
        for n, (key_id, index) in enumerate(zip(key_ids, indexes, strict=True)):
            raw = randomness[n * 32 : n * 32 + 32]
            row: dict[str, Any] = {
                "id": key_id,
                "account_id": account_id,
                "scope": SUBJECT_SCOPE,
                "subject_index": index,
                "created_at": now,
            }
            pending[key_id] = (row, raw)
            wrapped = self._wrap(key_id, raw)
            minted.append((SubjectKey(key_id, AESGCM(raw), row), wrapped))
        with self._lock:
            self._pending.update(pending)
        self._subjects.put_many(
            ((account_id, index), key_id) for index, key_id in zip(indexes, key_ids, strict=True)
        )
        return minted

    def confirm(self, key_ids: Iterable[str]) -> None:
        """The rows of these minted keys are committed: cache them like any stored key."""
        with self._lock:
            confirmed = [(k, p[1]) for k in key_ids if (p := self._pending.get(k)) is not None]
        self._raw.put_many(confirmed)  # cached before it leaves `_pending`: never absent
        with self._lock:
            for key_id, _ in confirmed:
                self._pending.pop(key_id, None)

    def discard(self, key_ids: Iterable[str]) -> None:
        """The transaction that was to store these minted keys failed: forget them."""
        for key_id in key_ids:
            self.forget(key_id)

    # --- fields ----------------------------------------------------------
    def account_sealer(self, account_id: str) -> AccountSealer:
        """What encrypts and indexes under `account_id`'s current key in another process
        (a contact import's workers): that key and the account's index key, nothing else."""
        key_id, _ = self._account_cipher(account_id)
        self.blind_index(account_id, "")  # derives and caches the account's index key
        return AccountSealer(
            account_id, key_id, self._raw_key(key_id), self._index_keys[account_id]
        )

    def encrypt(
        self, account_id: str, column: str, plaintext: str, key: SubjectKey | None = None
    ) -> bytes:
        """Encrypt under the subject's key, or the account key when no subject is given."""
        if key is None:
            key_id, cipher = self._account_cipher(account_id)
        else:
            key_id, cipher = key.key_id, key.cipher
        nonce = _nonces.take()
        body = cipher.encrypt(nonce, plaintext.encode(), _aad(account_id, column))
        return _head(key_id) + nonce + body

    def decrypt(self, account_id: str, column: str, blob: bytes) -> str:
        if not blob or blob[0] != _FORMAT_VERSION:
            raise KeyUnavailable("unknown ciphertext format")
        ref_len = blob[1]
        key_id = bytes(blob[2 : 2 + ref_len]).decode()
        start = 2 + ref_len
        nonce = blob[start : start + _NONCE_BYTES]
        aad = _aad(account_id, column)
        try:
            return self._cipher(key_id).decrypt(nonce, blob[start + _NONCE_BYTES :], aad).decode()
        except InvalidTag as exc:
            raise KeyUnavailable(key_id) from exc

    def decrypt_or_none(self, account_id: str, column: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        try:
            return self.decrypt(account_id, column, blob)
        except KeyUnavailable:
            return None

    # --- blind indexes ---------------------------------------------------
    def blind_index(self, scope: str, value: str) -> bytes:
        """Keyed HMAC of a normalised value; `scope` is an account id, or "global"."""
        keyed = self._index_macs.get(scope)
        if keyed is None:
            key = hmac.new(self._index_root, scope.encode(), hashlib.sha256).digest()
            keyed = HmacSha256(key)
            with self._lock:
                self._index_keys[scope] = key
                self._index_macs[scope] = keyed
        return keyed.digest(value.encode())[:16]

    # --- signatures ------------------------------------------------------
    def sign(self, purpose: str, data: bytes) -> bytes:
        """HMAC-SHA256 of `data` under a key derived for `purpose` (links, tokens)."""
        key = hmac.new(self._signing_root, purpose.encode(), hashlib.sha256).digest()
        return hmac.digest(key, data, "sha256")

    def verify(self, purpose: str, data: bytes, signature: bytes) -> bool:
        expected = self.sign(purpose, data)[: len(signature)]
        return len(signature) >= 16 and hmac.compare_digest(expected, signature)


class BatchDecrypter:
    """`Crypto.decrypt` for the ciphertexts of one batch; see `Crypto.batch`."""

    def __init__(self, crypto: Crypto, raw: dict[str, bytes]) -> None:
        self._crypto = crypto
        self._raw = raw
        self._ciphers: dict[str, AESGCM] = {}

    def decrypt(self, account_id: str, column: str, blob: bytes) -> str:
        if not blob or blob[0] != _FORMAT_VERSION:
            raise KeyUnavailable("unknown ciphertext format")
        start = 2 + blob[1]
        key_id = blob[2:start].decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raw = self._raw.get(key_id)
            if raw is None:
                return self._crypto.decrypt(account_id, column, blob)
            cipher = self._ciphers[key_id] = AESGCM(raw)
        nonce_end = start + _NONCE_BYTES
        aad = _aad(account_id, column)
        try:
            return cipher.decrypt(blob[start:nonce_end], blob[nonce_end:], aad).decode()
        except InvalidTag as exc:
            raise KeyUnavailable(key_id) from exc


class AccountSealer:
    """Encryption under one account's key and its blind indexes, with the same output as
    `Crypto.encrypt` and `Crypto.blind_index` for that account. Picklable, so the
    independent per-row work of a large import can run in worker processes; it holds no
    master key and cannot decrypt under any other key."""

    def __init__(self, account_id: str, key_id: str, raw_key: bytes, index_key: bytes) -> None:
        self.account_id = account_id
        self._key_id = key_id
        self._raw = raw_key
        self._index_key = index_key
        self._cipher = AESGCM(raw_key)
        self._mac = HmacSha256(index_key)
        self._head = _head(key_id)

    def __reduce__(self) -> tuple[type[AccountSealer], tuple[str, str, bytes, bytes]]:
        return (type(self), (self.account_id, self._key_id, self._raw, self._index_key))

    def encrypt(self, account_id: str, column: str, plaintext: str) -> bytes:
        if account_id != self.account_id:
            raise KeyUnavailable(f"no data key for {account_id} here")
        nonce = _nonces.take()
        aad = _aad(account_id, column)
        return self._head + nonce + self._cipher.encrypt(nonce, plaintext.encode(), aad)

    def blind_index(self, scope: str, value: str) -> bytes:
        if scope != self.account_id:
            raise KeyUnavailable(f"no index key for {scope} here")
        return self._mac.digest(value.encode())[:16]
