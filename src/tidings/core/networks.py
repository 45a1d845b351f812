"""IP addresses and networks: which are public, and networks an operator writes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (`10.0.0.0/8`, `fd00::/8`, or one address); ValueError names a bad one."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a network; write it as an address or a CIDR, "
                "like '10.0.0.0/8' or 'fd00::/8'"
            ) from None
    return tuple(networks)


def _kind(address: Address) -> str | None:
    """What kind of address `address` is when it is not public, or None when it is."""
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def _unwrapped(address: Address) -> Address:
    """The IPv4 address an IPv6 address carries (`::ffff:10.0.0.1`, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is not None:
            return inner
    return address


def refusal(address: str, allowed: Iterable[Network] = ()) -> str | None:
    """What kind of address `address` is when it is not public ("a loopback address"), or
    None when it is public or lies in one of the `allowed` networks. ValueError when it is
    not an address."""
    parsed = ipaddress.ip_address(address.split("%", 1)[0])  # a zone: fe80::1%eth0
    # the IPv4 address inside first: ::ffff:127.0.0.1 is a loopback address, not just
    # one of the IPv4-mapped range
    candidates = tuple(dict.fromkeys((_unwrapped(parsed), parsed)))
    if any(c in network for c in candidates for network in allowed):
        return None
    for candidate in candidates:
        kind = _kind(candidate)
        if kind is not None:
            return kind
    return None


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True
