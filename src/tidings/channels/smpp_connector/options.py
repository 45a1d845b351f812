"""The `type = "smpp"` connector's settings, read and checked from a connector's table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tidings.channels.smpp.concat import ConcatMethod

BindMode = Literal["transceiver", "pair"]


class SmppOptionsError(ValueError):
    """A setting is missing or wrong; the message names it and says what to write."""


@dataclass(frozen=True)
class SmppOptions:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind: BindMode = "transceiver"
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    window: int = 10
    tps: float = 100.0
    enquire_link_seconds: float = 30.0
    response_timeout_seconds: float = 10.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    tls: bool = False
    tls_verify: bool = True
    tls_ca_file: str = ""
    long_messages: ConcatMethod = ConcatMethod.UDH8
    gsm7_data_coding: int = 0
    registered_delivery: int = 1
    throttle_pause_seconds: float = 1.0
    throttle_retries: int = 3
    reassembly_timeout_seconds: float = 300.0

    # Keys a connector table may hold besides name, type, tps and window.
    KEYS = (
        "host",
        "port",
        "system_id",
        "password",
        "system_type",
        "bind",
        "addr_ton",
        "addr_npi",
        "address_range",
        "enquire_link_seconds",
        "response_timeout_seconds",
        "reconnect_min_seconds",
        "reconnect_max_seconds",
        "tls",
        "tls_verify",
        "tls_ca_file",
        "long_messages",
        "gsm7_data_coding",
        "registered_delivery",
        "throttle_pause_seconds",
        "throttle_retries",
        "reassembly_timeout_seconds",
    )

    @classmethod
    def from_options(
        cls, name: str, options: dict[str, Any], *, tps: float, window: int
    ) -> SmppOptions:
        where = f"connector {name!r}"
        unknown = set(options) - set(cls.KEYS)
        if unknown:
            raise SmppOptionsError(
                f"{where}: unknown smpp key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(cls.KEYS)}"
            )
        values: dict[str, Any] = {"tps": float(tps), "window": int(window)}
        for key in ("host", "system_id", "password"):
            if key not in options:
                raise SmppOptionsError(f"{where}: '{key}' is required for an smpp connector")
        values["host"] = _string(where, options, "host", 253, allow_empty=False)
        values["system_id"] = _string(where, options, "system_id", 15, allow_empty=False)
        values["password"] = _string(where, options, "password", 8)
        values["port"] = _integer(where, options, "port", 1, 65535, 2775)
        values["system_type"] = _string(where, options, "system_type", 12)
        values["address_range"] = _string(where, options, "address_range", 40)
        values["tls_ca_file"] = _string(where, options, "tls_ca_file", 4096)
        bind = options.get("bind", "transceiver")
        if bind not in ("transceiver", "pair"):
            raise SmppOptionsError(f'{where}: \'bind\' must be "transceiver" or "pair"')
        values["bind"] = bind
        for key in ("addr_ton", "addr_npi", "gsm7_data_coding", "registered_delivery"):
            values[key] = _integer(where, options, key, 0, 255, getattr(cls, key))
        values["throttle_retries"] = _integer(where, options, "throttle_retries", 0, 100, 3)
        for key in (
            "enquire_link_seconds",
            "response_timeout_seconds",
            "reconnect_min_seconds",
            "reconnect_max_seconds",
            "throttle_pause_seconds",
            "reassembly_timeout_seconds",
        ):
            values[key] = _number(where, options, key, getattr(cls, key))
        if values["reconnect_max_seconds"] < values["reconnect_min_seconds"]:
            raise SmppOptionsError(
                f"{where}: 'reconnect_max_seconds' must be at least 'reconnect_min_seconds'"
            )
        for key in ("tls", "tls_verify"):
            value = options.get(key, getattr(cls, key))
            if not isinstance(value, bool):
                raise SmppOptionsError(f"{where}: '{key}' must be true or false")
            values[key] = value
        method = options.get("long_messages", "udh8")
        try:
            values["long_messages"] = ConcatMethod(method)
        except ValueError:
            choices = ", ".join(f'"{m.value}"' for m in ConcatMethod)
            raise SmppOptionsError(f"{where}: 'long_messages' must be one of {choices}") from None
        return cls(**values)


def _string(
    where: str, options: dict[str, Any], key: str, limit: int, *, allow_empty: bool = True
) -> str:
    value = options.get(key, "")
    if not isinstance(value, str):
        raise SmppOptionsError(f"{where}: '{key}' must be a string")
    if not allow_empty and not value:
        raise SmppOptionsError(f"{where}: '{key}' must not be empty")
    if len(value) > limit or not value.isascii():
        raise SmppOptionsError(f"{where}: '{key}' must be at most {limit} ASCII characters")
    return value


def _integer(
    where: str, options: dict[str, Any], key: str, low: int, high: int, default: int
) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SmppOptionsError(f"{where}: '{key}' must be an integer from {low} to {high}")
    return value


def _number(where: str, options: dict[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise SmppOptionsError(f"{where}: '{key}' must be a number greater than 0")
    return float(value)
