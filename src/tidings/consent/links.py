"""Signed opt-out links: `/o/{token}` carries the account and the number's blind index.

The token is `base64url(version | channel | account id | number index | signature)`,
signed with a key derived from the master key. It holds no plaintext number, and a
changed byte makes it invalid.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from tidings.core.crypto import Crypto
from tidings.domain.consent import EVENT_CHANNELS

_VERSION = 1
_INDEX_BYTES = 16
_SIGNATURE_BYTES = 16
_PURPOSE = "opt-out link"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    account_id: str
    number_index: bytes
    channel: str


def make_token(crypto: Crypto, target: LinkTarget) -> str:
    account = target.account_id.encode()
    body = (
        bytes((_VERSION, EVENT_CHANNELS.index(target.channel), len(account)))
        + account
        + target.number_index
    )
    signature = crypto.sign(_PURPOSE, body)[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(body + signature).decode().rstrip("=")


def read_token(crypto: Crypto, token: str) -> LinkTarget | None:
    """The link's target, or None for anything not made by `make_token` with this key."""
    if not 20 <= len(token) <= 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    body, signature = raw[:-_SIGNATURE_BYTES], raw[-_SIGNATURE_BYTES:]
    if len(body) < 3 or body[0] != _VERSION or not crypto.verify(_PURPOSE, body, signature):
        return None
    channel_code, length = body[1], body[2]
    if channel_code >= len(EVENT_CHANNELS) or len(body) != 3 + length + _INDEX_BYTES:
        return None
    return LinkTarget(
        account_id=body[3 : 3 + length].decode(),
        number_index=body[3 + length :],
        channel=EVENT_CHANNELS[channel_code],
    )
