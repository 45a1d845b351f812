"""Fuzzing the HTTP API from its own OpenAPI document: whatever a client sends, never a 500.

schemathesis generates requests for every operation of /openapi.json, valid and invalid
(wrong types, missing and unknown fields, odd strings, wrong methods), and each answer must
be below 500, every 4xx a problem+json with a `code`, and status, content type and body as
the document describes. One run carries an admin API key, the other none (401 paths).

The pipeline workers do not run: the API is under test, and dispatching fuzzed messages
would only send webhooks to fuzzed URLs. Runs on SQLite and PostgreSQL (the `runtime`
fixture); `derandomize` keeps the examples the same on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python import asgi
from schemathesis.specs.openapi import unregister_string_format

from tidings.api.app import create_app
from tidings.runtime import Runtime

pytestmark = pytest.mark.slow

with_admin_key = schemathesis.pytest.from_fixture("admin_schema")
without_a_key = schemathesis.pytest.from_fixture("anonymous_schema")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


_OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=14)),
        timezone(timedelta(hours=-12)),
        timezone(timedelta(hours=5, minutes=30)),
    ]
)
# RFC 3339 times with offsets: any instant, the months around the test clock (2026-03-01:
# past, scheduled, too far ahead) and the ends of the range, which UTC cannot always hold.
DATE_TIMES = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]),
    st.datetimes(timezones=_OFFSETS).map(datetime.isoformat),
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 6, 1), timezones=_OFFSETS).map(
        datetime.isoformat
    ),
)


@pytest.fixture
def date_time_format() -> Iterator[None]:
    schemathesis.openapi.format("date-time", DATE_TIMES)
    yield
    unregister_string_format("date-time")


@pytest.fixture
def anonymous_schema(runtime: Runtime, date_time_format: None) -> Iterator[Any]:
    """The API as its document describes it; generated calls carry no key or a made-up one."""
    app = create_app(runtime, run_workers=False)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    asgi.shutdown_lifespans()  # schemathesis keeps the app's lifespan open until told


@pytest.fixture
def admin_schema(anonymous_schema: Any) -> Any:
    """The same, with the key left to the test: every call carries a real one."""
    anonymous_schema.config.generation.update(with_security_parameters=False)
    return anonymous_schema


@pytest.fixture
def admin_headers(runtime: Runtime) -> dict[str, str]:
    account = runtime.accounts.create_account("Fuzz")
    key = runtime.accounts.create_api_key(account["account_id"], "fuzz", ["admin"])["api_key"]
    return {"Authorization": f"Bearer {key}"}


def assert_sound(case: Any, response: Any) -> None:
    """Below 500; a 4xx is a problem+json whose status and code say what went wrong."""
    case.validate_response(response, checks=CHECKS)
    status = response.status_code
    assert status < 500, f"{case.operation.label}: {status} {response.text[:500]}"
    if status >= 400:
        content_type = _header(response, "content-type")
        assert content_type.startswith("application/problem+json"), (status, content_type)
        problem = response.json()
        assert problem["status"] == status, problem
        assert isinstance(problem["code"], str) and problem["code"], problem
        assert problem["type"].endswith("/" + problem["code"]), problem


def _header(response: Any, name: str) -> str:
    values = {k.lower(): v for k, v in response.headers.items()}.get(name, [""])
    return str(values[0])


@with_admin_key.parametrize()
@FUZZ
def test_no_request_with_an_admin_key_fails_on_our_side(
    case: Any, admin_headers: dict[str, str]
) -> None:
    assert_sound(case, case.call(headers=admin_headers))


@with_admin_key.parametrize()
@FUZZ
def test_no_request_without_a_key_fails_on_our_side_or_gets_in(case: Any) -> None:
    response = case.call()  # no key, or whatever Authorization schemathesis makes up
    assert_sound(case, response)
    if case.operation.definition.raw.get("security"):
        assert 400 <= response.status_code < 500, (case.operation.label, response.text[:300])
