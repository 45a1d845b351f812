"""Fuzzing the operator's privacy endpoints with an operator key: never a 500.

The shared fuzz run (tests/api/test_openapi_fuzz.py) carries an account admin key, which
every /v1/admin route refuses with 403; this run carries an operator key, so generated
registers, ids and formats reach the code. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from tests.api.test_openapi_fuzz import (  # fixtures, by name
    FUZZ,
    admin_schema,
    anonymous_schema,
    assert_sound,
    date_time_format,
)
from tidings.runtime import Runtime

__all__ = ["admin_schema", "anonymous_schema", "date_time_format"]
pytestmark = pytest.mark.slow

with_operator_key = schemathesis.pytest.from_fixture("admin_schema").include(
    path_regex="^/v1/admin/privacy"
)


@pytest.fixture
def operator_headers(runtime: Runtime) -> dict[str, str]:
    account = runtime.accounts.create_account("Operator")["account_id"]
    key = runtime.accounts.create_api_key(account, "ops", ["operator"], allow_operator=True)
    return {"Authorization": f"Bearer {key['api_key']}"}


@with_operator_key.parametrize()
@FUZZ
def test_no_request_with_an_operator_key_fails_on_our_side(
    case: Any, operator_headers: dict[str, str]
) -> None:
    assert_sound(case, case.call(headers=operator_headers))
