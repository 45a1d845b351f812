"""Settings from the environment and the optional TOML config file."""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tidings.core.errors import ConfigError
from tidings.core.networks import parse_networks

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CONNECTOR_TYPES = frozenset({"simulator", "smpp"})


@dataclass(frozen=True)
class ConnectorConfig:
    name: str
    type: str
    tps: float = 1000.0
    window: int = 100
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteConfig:
    prefix: str
    connector: str
    priority: int = 0


DIRECTIONS = ("outbound", "inbound")
MAX_PRICE = Decimal("9999999.99999")  # what a statement line's unit price can hold


@dataclass(frozen=True)
class BillingConfig:
    """[billing]: the currency of statements and the price of one segment per channel and
    direction (a channel or direction not priced costs 0: its usage is still counted)."""

    currency: str = "EUR"
    prices: tuple[tuple[str, str, Decimal], ...] = ()  # (channel, direction, per segment)
    statement_interval_seconds: float = 3600.0  # 0: serve issues no statements on its own

    def price(self, channel: str, direction: str) -> Decimal:
        for priced_channel, priced_direction, price in self.prices:
            if (priced_channel, priced_direction) == (channel, direction):
                return price
        return Decimal(0)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    master_key_env: str | None = None
    key_vault_url: str | None = None  # None: keys.db in the data dir
    connectors: tuple[ConnectorConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    max_segments: int = 10
    max_batch: int = 10_000
    max_request_bytes: int = 8 * 1024 * 1024
    max_import_bytes: int = 2 * 1024 * 1024 * 1024  # a contact import upload
    dispatch_batch: int = 500
    lease_seconds: float = 30.0
    retry_base_seconds: float = 5.0
    max_dispatch_attempts: int = 6
    webhook_timeout_seconds: float = 10.0
    webhook_max_age_seconds: float = 24 * 3600.0
    # Networks webhooks may reach besides public addresses (CIDRs); none by default
    webhook_allowed_networks: tuple[str, ...] = ()
    # Of the webhook sender's 50 deliveries in flight, how many one account may hold
    webhook_concurrency_per_account: int = 10
    public_url: str = "http://127.0.0.1:8000"  # where the public pages (/o/...) are reached
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (reverse proxies)
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)
    policy: str = "baseline"
    region: str = "eu"  # where this deployment keeps its data (privacy/data/regions.toml)
    retention_interval_seconds: float = 3600.0  # 0: no sweep inside serve
    retention_batch: int = 10_000
    retention_workers: int = 2  # batches in flight at once on PostgreSQL
    billing: BillingConfig = BillingConfig()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


DEFAULT_SIMULATOR = ConnectorConfig(name="simulator", type="simulator", tps=5000.0, window=2000)
DEFAULT_ROUTE = RouteConfig(prefix="+", connector="simulator", priority=0)


def _parse_webhook_networks(pipeline: dict[str, Any]) -> tuple[str, ...]:
    values = _take(pipeline, "webhook_allowed_networks", list, "[pipeline]", default=[])
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(
            "[pipeline]: 'webhook_allowed_networks' must be a list of strings, "
            'like ["10.0.0.0/8"]'
        )
    try:
        parse_networks(values)
    except ValueError as exc:
        raise ConfigError(f"[pipeline]: 'webhook_allowed_networks': {exc}") from None
    return tuple(values)


def _take(
    table: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    default: Any = None,
    required: bool = False,
) -> Any:
    if key not in table:
        if required:
            raise ConfigError(f"{where}: '{key}' is required")
        return default
    value = table[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ConfigError(f"{where}: '{key}' must be {_kind_name(kind)}, not a boolean")
    if not isinstance(value, kind):
        raise ConfigError(f"{where}: '{key}' must be {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parse_connector(raw: Any, index: int) -> ConnectorConfig:
    where = f"[[connectors]] #{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    name = _take(raw, "name", str, where, required=True)
    if not _NAME.match(name):
        raise ConfigError(f"{where}: name {name!r} must be lowercase letters, digits, - or _")
    where = f"connector {name!r}"
    kind = _take(raw, "type", str, where, required=True)
    if kind not in CONNECTOR_TYPES:
        raise ConfigError(
            f"{where}: type {kind!r} is not known; use one of {', '.join(sorted(CONNECTOR_TYPES))}"
        )
    tps = float(_take(raw, "tps", (int, float), where, default=1000.0))
    window = _take(raw, "window", int, where, default=100)
    if tps <= 0:
        raise ConfigError(f"{where}: 'tps' must be greater than 0")
    if window < 1:
        raise ConfigError(f"{where}: 'window' must be at least 1")
    options = {k: v for k, v in raw.items() if k not in {"name", "type", "tps", "window"}}
    return ConnectorConfig(name=name, type=kind, tps=tps, window=window, options=options)


def _parse_route(raw: Any, index: int, connectors: set[str]) -> RouteConfig:
    where = f"[[routes]] #{index + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(raw) - {"prefix", "connector", "priority"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    prefix = _take(raw, "prefix", str, where, required=True)
    if not re.fullmatch(r"\+[0-9]*", prefix):
        raise ConfigError(f"{where}: prefix {prefix!r} must be '+' followed by digits, like '+31'")
    connector = _take(raw, "connector", str, where, required=True)
    if connector not in connectors:
        raise ConfigError(f"{where}: connector {connector!r} is not declared in [[connectors]]")
    priority = _take(raw, "priority", int, where, default=0)
    return RouteConfig(prefix=prefix, connector=connector, priority=priority)


def _parse_server(server: Any, env: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """[server]: the public URL (links in messages point there) and the trusted proxies."""
    if not isinstance(server, dict):
        raise ConfigError("[server] must be a table")
    unknown = set(server) - {"public_url", "forwarded_allow_ips"}
    if unknown:
        raise ConfigError(
            f"[server]: unknown key(s) {', '.join(sorted(unknown))}; "
            "known: public_url, forwarded_allow_ips"
        )
    public_url = env.get("TIDINGS_PUBLIC_URL") or _take(
        server, "public_url", str, "[server]", default=Settings.public_url
    )
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", public_url):
        raise ConfigError(
            f"[server]: 'public_url' must be an http:// or https:// URL without query, like "
            f"'https://sms.example.com', got {public_url!r}"
        )
    allowed = _take(
        server, "forwarded_allow_ips", list, "[server]", default=list(Settings.forwarded_allow_ips)
    )
    for address in allowed:
        if not isinstance(address, str) or not address.strip():
            raise ConfigError(
                "[server]: 'forwarded_allow_ips' must be a list of IP addresses or networks "
                '(or "*" to trust every peer)'
            )
        if address != "*":
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError as exc:
                raise ConfigError(
                    f"[server]: {address!r} in 'forwarded_allow_ips' is not an IP address or "
                    "network"
                ) from exc
    return public_url.rstrip("/"), tuple(allowed)


def _parse_price(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f'{where} must be a price like "0.045", got {value!r}')
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigError(f'{where} must be a price like "0.045", got {value!r}') from None
    if not price.is_finite() or price < 0 or price > MAX_PRICE:
        raise ConfigError(f"{where} must be a price from 0 to {MAX_PRICE}, got {value!r}")
    if price != price.quantize(Decimal("0.00001")):
        raise ConfigError(f"{where} may have at most 5 decimals, got {value!r}")
    return price


def _parse_billing(billing: Any) -> BillingConfig:
    """[billing]: currency, statement_interval_seconds and [billing.prices.<channel>] with
    the price of one outbound and one inbound segment."""
    if not isinstance(billing, dict):
        raise ConfigError("[billing] must be a table")
    known = ("currency", "prices", "statement_interval_seconds")
    unknown = set(billing) - set(known)
    if unknown:
        raise ConfigError(
            f"[billing]: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}"
        )
    currency = _take(billing, "currency", str, "[billing]", default=BillingConfig.currency)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigError(
            f"[billing]: 'currency' must be an ISO 4217 code like \"EUR\", got {currency!r}"
        )
    interval = float(
        _take(
            billing,
            "statement_interval_seconds",
            (int, float),
            "[billing]",
            default=BillingConfig.statement_interval_seconds,
        )
    )
    if interval < 0:
        raise ConfigError("[billing]: 'statement_interval_seconds' must be 0 (off) or more")
    raw_prices = _take(billing, "prices", dict, "[billing]", default={})
    prices: list[tuple[str, str, Decimal]] = []
    for channel, by_direction in sorted(raw_prices.items()):
        where = f"[billing.prices.{channel}]"
        if not _NAME.match(channel):
            raise ConfigError(f"{where}: a channel is lowercase letters, digits, - or _")
        if not isinstance(by_direction, dict):
            raise ConfigError(f'{where} must be a table: outbound = "0.045", inbound = "0"')
        unknown = set(by_direction) - set(DIRECTIONS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: outbound, inbound"
            )
        for direction in DIRECTIONS:
            if direction in by_direction:
                price = _parse_price(by_direction[direction], f"{where} {direction}")
                prices.append((channel, direction, price))
    return BillingConfig(currency, tuple(prices), interval)


def load_settings(config_file: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text())
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {config_file} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {config_file} is not valid TOML: {exc}") from exc
    known = {"connectors", "routes", "pipeline", "server", "privacy", "billing"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(
            f"unknown section(s) in config: {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )

    data_dir = Path(env.get("TIDINGS_DATA_DIR", ".tidings"))
    database_url = env.get("TIDINGS_DATABASE_URL") or f"sqlite:///{data_dir / 'tidings.db'}"

    raw_connectors = data.get("connectors", [])
    if not isinstance(raw_connectors, list):
        raise ConfigError("'connectors' must be an array of tables: [[connectors]]")
    connectors = tuple(_parse_connector(c, i) for i, c in enumerate(raw_connectors))
    names = [c.name for c in connectors]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(f"connector name(s) declared twice: {', '.join(sorted(duplicates))}")
    raw_routes = data.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError("'routes' must be an array of tables: [[routes]]")
    routes = tuple(_parse_route(r, i, set(names)) for i, r in enumerate(raw_routes))
    if not connectors:
        if routes:
            raise ConfigError("routes are declared but no [[connectors]]")
        connectors, routes = (DEFAULT_SIMULATOR,), (DEFAULT_ROUTE,)

    pipeline = data.get("pipeline", {})
    if not isinstance(pipeline, dict):
        raise ConfigError("[pipeline] must be a table")
    allowed = {
        "max_segments",
        "dispatch_batch",
        "lease_seconds",
        "retry_base_seconds",
        "max_dispatch_attempts",
        "webhook_timeout_seconds",
        "webhook_allowed_networks",
        "webhook_concurrency_per_account",
    }
    unknown = set(pipeline) - allowed
    if unknown:
        raise ConfigError(f"[pipeline]: unknown key(s) {', '.join(sorted(unknown))}")
    max_segments = _take(pipeline, "max_segments", int, "[pipeline]", default=10)
    per_account = _take(pipeline, "webhook_concurrency_per_account", int, "[pipeline]", default=10)
    if not 1 <= per_account <= 50:
        raise ConfigError(
            "[pipeline]: 'webhook_concurrency_per_account' must be between 1 and 50 "
            "(the sender's deliveries in flight)"
        )
    if not 1 <= max_segments <= 255:
        raise ConfigError("[pipeline]: 'max_segments' must be between 1 and 255")
    public_url, forwarded = _parse_server(data.get("server", {}), env)
    privacy = data.get("privacy", {})
    if not isinstance(privacy, dict):
        raise ConfigError("[privacy] must be a table")
    known_privacy = (
        "policy",
        "region",
        "retention_interval_seconds",
        "retention_batch",
        "retention_workers",
    )
    unknown = set(privacy) - set(known_privacy)
    if unknown:
        raise ConfigError(
            f"[privacy]: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(known_privacy)}"
        )
    policy = _take(privacy, "policy", str, "[privacy]", default=Settings.policy)
    if not policy.strip():
        raise ConfigError("[privacy]: 'policy' must be a preset name or the path of a TOML file")
    region = _take(privacy, "region", str, "[privacy]", default=Settings.region).strip().lower()
    interval = float(
        _take(
            privacy,
            "retention_interval_seconds",
            (int, float),
            "[privacy]",
            default=Settings.retention_interval_seconds,
        )
    )
    if interval < 0:
        raise ConfigError("[privacy]: 'retention_interval_seconds' must be 0 (off) or more")
    retention_batch = _take(
        privacy, "retention_batch", int, "[privacy]", default=Settings.retention_batch
    )
    if not 1 <= retention_batch <= 1_000_000:
        raise ConfigError("[privacy]: 'retention_batch' must be between 1 and 1000000")
    retention_workers = _take(
        privacy, "retention_workers", int, "[privacy]", default=Settings.retention_workers
    )
    if not 1 <= retention_workers <= 16:
        raise ConfigError("[privacy]: 'retention_workers' must be between 1 and 16")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        master_key_env=env.get("TIDINGS_MASTER_KEY") or None,
        key_vault_url=env.get("TIDINGS_KEY_VAULT_URL") or None,
        connectors=connectors,
        routes=routes,
        max_segments=max_segments,
        dispatch_batch=_take(pipeline, "dispatch_batch", int, "[pipeline]", default=500),
        lease_seconds=float(
            _take(pipeline, "lease_seconds", (int, float), "[pipeline]", default=30.0)
        ),
        retry_base_seconds=float(
            _take(pipeline, "retry_base_seconds", (int, float), "[pipeline]", default=5.0)
        ),
        max_dispatch_attempts=_take(
            pipeline, "max_dispatch_attempts", int, "[pipeline]", default=6
        ),
        webhook_timeout_seconds=float(
            _take(pipeline, "webhook_timeout_seconds", (int, float), "[pipeline]", default=10.0)
        ),
        webhook_allowed_networks=_parse_webhook_networks(pipeline),
        webhook_concurrency_per_account=per_account,
        public_url=public_url,
        forwarded_allow_ips=forwarded,
        policy=policy,
        region=region,
        retention_interval_seconds=interval,
        retention_batch=retention_batch,
        retention_workers=retention_workers,
        billing=_parse_billing(data.get("billing", {})),
    )
