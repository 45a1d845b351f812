"""Envelope encryption of personal data and keyed blind indexes for lookups.

master key -> data keys (one per account now; per subject next) -> field ciphertexts.
A data key is stored only wrapped (AES-GCM under the master key, bound to its id);
destroying a wrapped key makes every ciphertext under it unreadable, backups included.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tidings.core.errors import ConfigError

_FORMAT_VERSION = 1
_NONCE_BYTES = 12
MASTER_KEY_FILE = "master.key"


class KeyUnavailable(Exception):
    """The data key of a ciphertext is destroyed or unknown: the data is shredded."""


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


class Crypto:
    """Field encryption under data keys, and blind indexes.

    `load_wrapped(key_id)` returns a wrapped data key, or None once destroyed;
    `active_key_id(account_id)` names the key new data of that account is written with.
    """

    def __init__(
        self,
        master_key: bytes,
        load_wrapped: Callable[[str], bytes | None],
        active_key_id: Callable[[str], str | None],
    ) -> None:
        self._wrapping = AESGCM(_derive(master_key, b"tidings key wrapping v1"))
        self._index_root = _derive(master_key, b"tidings blind index v1")
        self._signing_root = _derive(master_key, b"tidings signatures v1")
        self._load_wrapped = load_wrapped
        self._active_key_id = active_key_id
        self._ciphers: dict[str, AESGCM] = {}
        self._active: dict[str, str] = {}
        self._index_keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    # --- data keys -------------------------------------------------------
    def new_wrapped_key(self, key_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._wrapping.encrypt(nonce, os.urandom(32), key_id.encode())

    def remember(self, account_id: str, key_id: str, wrapped: bytes) -> None:
        """Use a key that was just created (and whose row is not committed yet)."""
        cipher = self._unwrap(key_id, wrapped)
        with self._lock:
            self._ciphers[key_id] = cipher
            self._active[account_id] = key_id

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is not None:
            return cipher
        wrapped = self._load_wrapped(key_id)
        if wrapped is None:
            raise KeyUnavailable(key_id)
        cipher = self._unwrap(key_id, wrapped)
        with self._lock:
            self._ciphers[key_id] = cipher
        return cipher

    def _unwrap(self, key_id: str, wrapped: bytes) -> AESGCM:
        try:
            raw = self._wrapping.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], key_id.encode()
            )
        except InvalidTag as exc:
            raise KeyUnavailable(key_id) from exc
        return AESGCM(raw)

    def forget(self, key_id: str) -> None:
        """Drop a key from memory (after it is destroyed in storage)."""
        with self._lock:
            self._ciphers.pop(key_id, None)
            for account, active in list(self._active.items()):
                if active == key_id:
                    del self._active[account]

    def _key_for(self, account_id: str) -> str:
        key_id = self._active.get(account_id)
        if key_id is None:
            key_id = self._active_key_id(account_id)
            if key_id is None:
                raise KeyUnavailable(f"no data key for {account_id}")
            with self._lock:
                self._active[account_id] = key_id
        return key_id

    # --- fields ----------------------------------------------------------
    def encrypt(self, account_id: str, column: str, plaintext: str) -> bytes:
        key_id = self._key_for(account_id)
        nonce = os.urandom(_NONCE_BYTES)
        aad = f"{account_id}|{column}".encode()
        key_ref = key_id.encode()
        body = self._cipher(key_id).encrypt(nonce, plaintext.encode(), aad)
        return bytes((_FORMAT_VERSION, len(key_ref))) + key_ref + nonce + body

    def decrypt(self, account_id: str, column: str, blob: bytes) -> str:
        if not blob or blob[0] != _FORMAT_VERSION:
            raise KeyUnavailable("unknown ciphertext format")
        ref_len = blob[1]
        key_id = blob[2 : 2 + ref_len].decode()
        start = 2 + ref_len
        nonce = blob[start : start + _NONCE_BYTES]
        aad = f"{account_id}|{column}".encode()
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
        key = self._index_keys.get(scope)
        if key is None:
            key = hmac.new(self._index_root, scope.encode(), hashlib.sha256).digest()
            with self._lock:
                self._index_keys[scope] = key
        return hmac.digest(key, value.encode(), "sha256")[:16]

    # --- signatures ------------------------------------------------------
    def sign(self, purpose: str, data: bytes) -> bytes:
        """HMAC-SHA256 of `data` under a key derived for `purpose` (links, tokens)."""
        key = hmac.new(self._signing_root, purpose.encode(), hashlib.sha256).digest()
        return hmac.digest(key, data, "sha256")

    def verify(self, purpose: str, data: bytes, signature: bytes) -> bool:
        expected = self.sign(purpose, data)[: len(signature)]
        return len(signature) >= 16 and hmac.compare_digest(expected, signature)
