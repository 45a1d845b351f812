"""Shared fixtures: every storage-touching test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TIDINGS_TEST_POSTGRES_URL (default: the local server with trust
auth). Without a server those tests skip with the reason; with TIDINGS_REQUIRE_SERVICES=1
(as .ci/run sets) the skip becomes a failure.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support import Tenant
from tidings.api.app import create_app
from tidings.core.clock import ManualClock
from tidings.core.config import ConnectorConfig, RouteConfig, Settings
from tidings.runtime import Runtime, build_runtime
from tidings.store.database import Database
from tidings.store.migrate import upgrade
from tidings.store.partitions import PARTITIONED
from tidings.store.tables import metadata

PG_ADMIN_URL = os.environ.get(
    "TIDINGS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("TIDINGS_REQUIRE_SERVICES") == "1"

# Property tests prove properties, not speed: a busy CI machine must not fail them on time.
settings.register_profile("tidings", deadline=None)
settings.load_profile("tidings")


def service_missing(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (TIDINGS_REQUIRE_SERVICES=1 makes this a failure)")
    pytest.skip(reason)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A database of its own, dropped afterwards; skip (or fail, when required) without one."""
    admin = create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        service_missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                )
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test run, dropped at the end."""
    with fresh_postgres_database("tidings_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tidings.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    truncate_filled(url)
    yield url


def truncate_filled(url: str) -> None:
    """Empty the tables a test filled. Only those: truncating a relation costs file work
    however few its rows, and the message tables have a partition per month the tests'
    clocks have visited (with their indexes, hundreds of relations)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            existing = set(
                conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
            )
            names = [t.name for t in metadata.sorted_tables if t.name in existing]
            partitions = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(:names)"
                ),
                {"names": names},
            ).scalars()
            partitioned = set(PARTITIONED)
            candidates = [n for n in names if n not in partitioned] + list(partitions)
            if not candidates:
                return
            probe = " UNION ALL ".join(
                f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM {n})" for n in candidates
            )
            filled = list(conn.execute(text(probe)).scalars())
            if filled:
                conn.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database and nothing else (no runtime), for storage-level tests."""
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    simulator_options = overrides.pop("simulator", {"latency_ms": 5, "journal": False})
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "master_key_env": base64.b64encode(os.urandom(32)).decode(),
        "connectors": (
            ConnectorConfig("sim", "simulator", tps=5000, window=500, options=simulator_options),
        ),
        "routes": (RouteConfig("+", "sim", 0),),
        "retry_base_seconds": 0.01,
        # The tests' webhook receivers listen on the loopback (tests/api/receiver.py)
        "webhook_allowed_networks": ("127.0.0.0/8",),
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data")


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The HTTP API with the pipeline workers running."""
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def tenant(client: TestClient, runtime: Runtime) -> Tenant:
    return Tenant(client, runtime, "Acme")


@pytest.fixture
def other_tenant(client: TestClient, runtime: Runtime) -> Tenant:
    return Tenant(client, runtime, "Globex")
