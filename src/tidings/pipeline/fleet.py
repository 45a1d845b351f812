"""Connectors and routes that the operator manages at runtime (/v1/admin), beside the config file's.

The config file's connectors and routes are read-only here (change them in the file); those
created through the API are stored (`connector_configs`, `route_configs`), loaded at start,
and take effect at once: a connector is built, started and given a dispatch slot; the
routing table is rebuilt on every route change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update

from tidings.channels.base import Connector, ConnectorEvents
from tidings.core.clock import Clock, iso
from tidings.core.config import CONNECTOR_TYPES, ConnectorConfig, RouteConfig, Settings
from tidings.core.errors import ConfigError, Conflict, InvalidInput, NotFound
from tidings.core.ids import new_id
from tidings.pipeline.dispatcher import ConnectorSlot
from tidings.pipeline.routing import Router
from tidings.store import connector_reports as report_store
from tidings.store.database import Database
from tidings.store.tables import connector_configs, route_configs

log = logging.getLogger("tidings.fleet")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PREFIX = re.compile(r"^\+[0-9]{0,15}$")
SECRET_KEYS = frozenset({"password"})

ConnectorFactory = Callable[[ConnectorConfig], Connector]
FOLLOW_SECONDS = 5.0
# A report older than this is from a node that stopped (or hangs): not shown.
REPORT_MAX_AGE = timedelta(seconds=3 * FOLLOW_SECONDS)


class Fleet:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        build: ConnectorFactory,
        connectors: MutableMapping[str, Connector],
        slots: MutableMapping[str, ConnectorSlot],
        router: Router,
        node: str = "",
    ) -> None:
        self._db = db
        self._node = node  # this process, in the connector reports it writes
        self._clock = clock
        self._build = build
        self._connectors = connectors
        self._slots = slots
        self._router = router
        self._configs: dict[str, tuple[ConnectorConfig, str]] = {
            c.name: (c, "config") for c in settings.connectors
        }
        self._file_routes = [
            {"id": f"config-{i + 1}", "source": "config", "route": r}
            for i, r in enumerate(settings.routes)
        ]
        self._api_routes: list[dict[str, Any]] = []
        self._events: ConnectorEvents | None = None
        self._lock = asyncio.Lock()

    # --- start-up --------------------------------------------------------------------------
    def load(self) -> None:
        """Build the stored connectors and routes (called once, before the workers start)."""
        with self._db.read() as conn:
            stored = list(conn.execute(select(connector_configs)))
            routes = list(conn.execute(select(route_configs).order_by(route_configs.c.id)))
        for row in stored:
            if row.name in self._configs:
                raise ConfigError(
                    f"connector {row.name!r} is declared in the config file and was also "
                    "created through the API; delete one of them"
                )
            config = _config_from_json(row.name, row.type, row.settings_json)
            connector = self._build(config)
            self._install(config, connector, "api")
        self._api_routes = [_route_item(row) for row in routes]
        self._rebuild_routes()

    def started(self, events: ConnectorEvents) -> None:
        """The workers run: connectors created from now on are started at once."""
        self._events = events

    async def follow(self, interval: float = FOLLOW_SECONDS) -> None:
        """Apply changes stored by another process (an API-only node) every `interval`, and
        report this node's connector states for the processes that do not run them."""
        try:
            while True:
                await self._report_quietly()
                await asyncio.sleep(interval)
                try:
                    await self.sync()
                except Exception:
                    log.exception("reloading connectors and routes failed; will retry")
        finally:
            with contextlib.suppress(Exception), self._db.write() as conn:
                report_store.forget_node(conn, self._node)

    async def _report_quietly(self) -> None:
        states = {name: connector.status() for name, connector in self._connectors.items()}
        try:
            await asyncio.to_thread(self._report, states)
        except Exception:
            log.exception("reporting connector states failed; will retry")

    def _report(self, states: dict[str, dict[str, object]]) -> None:
        with self._db.write() as conn:
            report_store.replace_reports(conn, self._node, states, self._clock.now())

    @property
    def runs_connectors(self) -> bool:
        """Whether this process runs the connectors (roles all and worker), or only shows
        what the worker nodes report (role api)."""
        return self._events is not None

    def reported_states(self) -> dict[str, list[dict[str, Any]]]:
        """Per connector, the states recent reports of worker nodes give (one per node)."""
        with self._db.read() as conn:
            reports = report_store.reports_since(conn, self._clock.now() - REPORT_MAX_AGE)
        states: dict[str, list[dict[str, Any]]] = {}
        for node, name, state, at in reports:
            states.setdefault(name, []).append({**state, "node": node, "reported_at": iso(at)})
        return states

    def connector_states(self) -> dict[str, list[dict[str, Any]]]:
        """Each connector's state: its own here, else as the worker nodes report it."""
        if self.runs_connectors:
            return {name: [c.status()] for name, c in self._connectors.items()}
        return self.reported_states()

    async def sync(self) -> None:
        """Bring the API-made connectors and routes in line with the database."""
        async with self._lock:  # read under the lock: a change under way is not undone
            stored, routes = await asyncio.to_thread(self._read_stored)
            wanted = {
                row.name: _config_from_json(row.name, row.type, row.settings_json)
                for row in stored
                if self._configs.get(row.name, (None, "api"))[1] == "api"
            }
            for name, (config, source) in list(self._configs.items()):
                if source != "api":
                    continue
                if name not in wanted:
                    connector = self._connectors.pop(name)
                    self._slots.pop(name, None)
                    del self._configs[name]
                    await connector.stop()
                elif wanted[name] != config:
                    await self._connectors[name].stop()
                    self._install(wanted[name], self._build(wanted[name]), "api")
                    await self._start(self._connectors[name])
            for name, config in wanted.items():
                if name not in self._configs:
                    self._install(config, self._build(config), "api")
                    await self._start(self._connectors[name])
            self._api_routes = [_route_item(row) for row in routes]
            self._rebuild_routes()

    def _read_stored(self) -> tuple[list[Any], list[Any]]:
        with self._db.read() as conn:
            stored = list(conn.execute(select(connector_configs)))
            routes = list(conn.execute(select(route_configs).order_by(route_configs.c.id)))
        return stored, routes

    # --- connectors ------------------------------------------------------------------------
    def list_connectors(self) -> list[dict[str, Any]]:
        reported = None if self.runs_connectors else self.reported_states()
        return [self._describe(name, reported) for name in sorted(self._configs)]

    def get_connector(self, name: str) -> dict[str, Any]:
        if name not in self._configs:
            raise NotFound(f"no connector {name!r}", code="connector_not_found")
        return self._describe(name, None if self.runs_connectors else self.reported_states())

    async def create_connector(self, config: ConnectorConfig) -> dict[str, Any]:
        async with self._lock:
            _check_name(config.name)
            if config.name in self._configs:
                raise Conflict(
                    f"a connector named {config.name!r} exists; update it with PUT",
                    code="connector_exists",
                )
            connector = self._validated(config)
            now = self._clock.now()
            await asyncio.to_thread(self._store_connector, config, now, create=True)
            self._install(config, connector, "api")
            await self._start(connector)
        return await asyncio.to_thread(self.get_connector, config.name)

    async def update_connector(self, config: ConnectorConfig) -> dict[str, Any]:
        async with self._lock:
            self._require_api_connector(config.name)
            connector = self._validated(config)
            await asyncio.to_thread(self._store_connector, config, self._clock.now(), create=False)
            old = self._connectors[config.name]
            await old.stop()
            self._install(config, connector, "api")
            await self._start(connector)
        return await asyncio.to_thread(self.get_connector, config.name)

    async def delete_connector(self, name: str) -> None:
        async with self._lock:
            self._require_api_connector(name)
            users = [r for r in self._all_routes() if r["route"].connector == name]
            if users:
                raise Conflict(
                    f"routes {', '.join(r['id'] for r in users)} send to {name!r}; "
                    "delete or change them first",
                    code="connector_in_use",
                )
            await asyncio.to_thread(self._delete_connector, name)
            connector = self._connectors.pop(name)
            self._slots.pop(name, None)
            del self._configs[name]
            await connector.stop()

    def _validated(self, config: ConnectorConfig) -> Connector:
        if config.type not in CONNECTOR_TYPES:
            known = ", ".join(sorted(CONNECTOR_TYPES))
            raise InvalidInput(
                f"type {config.type!r} is not known; use one of {known}",
                code="invalid_connector",
                extra={"field": "type"},
            )
        if not config.tps > 0:
            raise InvalidInput(
                "'tps' must be greater than 0", code="invalid_connector", extra={"field": "tps"}
            )
        if config.window < 1:
            raise InvalidInput(
                "'window' must be at least 1", code="invalid_connector", extra={"field": "window"}
            )
        try:
            return self._build(config)
        except ConfigError as exc:
            raise InvalidInput(
                exc.detail, code="invalid_connector", extra={"field": "options"}
            ) from exc

    def _install(self, config: ConnectorConfig, connector: Connector, source: str) -> None:
        self._configs[config.name] = (config, source)
        self._connectors[config.name] = connector
        self._slots[config.name] = ConnectorSlot(connector, config.tps, config.window)

    async def _start(self, connector: Connector) -> None:
        if self._events is not None:
            await connector.start(self._events)

    def _require_api_connector(self, name: str) -> None:
        if name not in self._configs:
            raise NotFound(f"no connector {name!r}", code="connector_not_found")
        if self._configs[name][1] == "config":
            raise Conflict(
                f"connector {name!r} is declared in the config file; change it there",
                code="connector_from_config",
            )

    def _describe(
        self, name: str, reported: dict[str, list[dict[str, Any]]] | None
    ) -> dict[str, Any]:
        """`reported` (None where this process runs the connectors): the worker nodes'
        reports, shown as `state` (the newest) and `nodes` (one per node)."""
        config, source = self._configs[name]
        options = {k: ("***" if k in SECRET_KEYS else v) for k, v in config.options.items()}
        if reported is not None:
            nodes = reported.get(name, [])
            state: dict[str, Any] = nodes[-1] if nodes else {"name": name, "state": "not_reported"}
            return {
                "name": name,
                "type": config.type,
                "tps": config.tps,
                "window": config.window,
                "options": options,
                "source": source,
                "state": state,
                "nodes": nodes,
            }
        return {
            "name": name,
            "type": config.type,
            "tps": config.tps,
            "window": config.window,
            "options": options,
            "source": source,
            "state": self._connectors[name].status(),
        }

    def _store_connector(self, config: ConnectorConfig, now: datetime, *, create: bool) -> None:
        settings = json.dumps({"tps": config.tps, "window": config.window, **config.options})
        with self._db.write() as conn:
            if create:
                conn.execute(
                    insert(connector_configs).values(
                        name=config.name,
                        type=config.type,
                        settings_json=settings,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                conn.execute(
                    update(connector_configs)
                    .where(connector_configs.c.name == config.name)
                    .values(type=config.type, settings_json=settings, updated_at=now)
                )

    def _delete_connector(self, name: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(connector_configs).where(connector_configs.c.name == name))

    # --- routes ------------------------------------------------------------------------------
    def list_routes(self) -> list[dict[str, Any]]:
        return [_route_resource(item) for item in self._all_routes()]

    async def create_route(self, route: RouteConfig) -> dict[str, Any]:
        async with self._lock:
            self._check_route(route)
            now = self._clock.now()
            item = {"id": new_id("rte", now), "source": "api", "route": route, "created_at": now}
            await asyncio.to_thread(self._store_route, item, create=True)
            self._api_routes.append(item)
            self._rebuild_routes()
        return _route_resource(item)

    async def update_route(self, route_id: str, route: RouteConfig) -> dict[str, Any]:
        async with self._lock:
            item = self._api_route(route_id)
            self._check_route(route)
            updated = {**item, "route": route}
            await asyncio.to_thread(self._store_route, updated, create=False)
            self._api_routes[self._api_routes.index(item)] = updated
            self._rebuild_routes()
        return _route_resource(updated)

    async def delete_route(self, route_id: str) -> None:
        async with self._lock:
            item = self._api_route(route_id)
            await asyncio.to_thread(self._delete_route, route_id)
            self._api_routes.remove(item)
            self._rebuild_routes()

    def _api_route(self, route_id: str) -> dict[str, Any]:
        if route_id.startswith("config-") and any(r["id"] == route_id for r in self._file_routes):
            raise Conflict(
                f"route {route_id!r} is declared in the config file; change it there",
                code="route_from_config",
            )
        for item in self._api_routes:
            if item["id"] == route_id:
                return item
        raise NotFound(f"no route {route_id!r}", code="route_not_found")

    def _check_route(self, route: RouteConfig) -> None:
        if not _PREFIX.match(route.prefix):
            raise InvalidInput(
                f"prefix {route.prefix!r} must be '+' followed by up to 15 digits, like '+31'",
                code="invalid_route",
                extra={"field": "prefix"},
            )
        if route.connector not in self._configs:
            raise InvalidInput(
                f"connector {route.connector!r} does not exist; create it first",
                code="invalid_route",
                extra={"field": "connector"},
            )

    def _all_routes(self) -> list[dict[str, Any]]:
        return [*self._file_routes, *self._api_routes]

    def _rebuild_routes(self) -> None:
        self._router.replace([item["route"] for item in self._all_routes()])

    def _store_route(self, item: dict[str, Any], *, create: bool) -> None:
        route: RouteConfig = item["route"]
        values = {"prefix": route.prefix, "connector": route.connector, "priority": route.priority}
        with self._db.write() as conn:
            if create:
                conn.execute(
                    insert(route_configs).values(
                        id=item["id"], created_at=item["created_at"], **values
                    )
                )
            else:
                conn.execute(
                    update(route_configs).where(route_configs.c.id == item["id"]).values(**values)
                )

    def _delete_route(self, route_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(delete(route_configs).where(route_configs.c.id == route_id))


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidInput(
            f"name {name!r} must be 1-64 lowercase letters, digits, - or _",
            code="invalid_connector",
            extra={"field": "name"},
        )


def _config_from_json(name: str, kind: str, raw: str) -> ConnectorConfig:
    values = json.loads(raw)
    tps = float(values.pop("tps"))
    window = int(values.pop("window"))
    return ConnectorConfig(name=name, type=kind, tps=tps, window=window, options=values)


def _route_item(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": "api",
        "route": RouteConfig(prefix=row.prefix, connector=row.connector, priority=row.priority),
        "created_at": row.created_at,
    }


def _route_resource(item: dict[str, Any]) -> dict[str, Any]:
    route: RouteConfig = item["route"]
    created = item.get("created_at")
    return {
        "id": item["id"],
        "prefix": route.prefix,
        "connector": route.connector,
        "priority": route.priority,
        "source": item["source"],
        "created_at": iso(created) if created is not None else None,
    }
