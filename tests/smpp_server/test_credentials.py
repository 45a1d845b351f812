"""SMPP credentials: created once with a printed password, stored hashed, listed, revoked."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tidings.cli.main import app
from tidings.runtime import Runtime
from tidings.smpp_server.credentials import CredentialService
from tidings.store.tables import smpp_credentials


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_cli_creates_lists_and_revokes_credentials(env: dict[str, str]) -> None:
    account = json.loads(run(env, "account", "create", "--name", "Acme", "--json")[1])
    account_id = account["account_id"]
    code, out, _ = run(
        env, "smpp", "credentials", "create", "--account", account_id, "--max-tps", "50", "--json"
    )
    assert code == 0
    created = json.loads(out)
    assert len(created["password"]) == 8
    # "tid" + 10 of [a-z0-9]: fits SMPP's system_id (a C-octet string of at most 16 octets)
    assert re.fullmatch(r"tid[a-z0-9]{10}", created["system_id"])
    assert len(created["system_id"].encode("ascii")) <= 15
    assert created["max_tps"] == 50
    code, out, _ = run(env, "smpp", "credentials", "list", "--account", account_id, "--json")
    assert code == 0
    listed = json.loads(out)
    assert [item["system_id"] for item in listed] == [created["system_id"]]
    assert created["password"] not in out
    code, _, _ = run(env, "smpp", "credentials", "revoke", created["id"], "--account", account_id)
    assert code == 0
    listed = json.loads(
        run(env, "smpp", "credentials", "list", "--account", account_id, "--json")[1]
    )
    assert listed[0]["revoked_at"] is not None


def test_cli_refuses_an_unknown_account_and_bad_limits(env: dict[str, str]) -> None:
    code, _, err = run(env, "smpp", "credentials", "create", "--account", "acc_nope")
    assert code == 2
    assert "no active account" in err
    account_id = json.loads(run(env, "account", "create", "--name", "A", "--json")[1])["account_id"]
    code, _, err = run(
        env, "smpp", "credentials", "create", "--account", account_id, "--max-binds", "0"
    )
    assert code == 2
    assert "max_binds" in err
    code, _, err = run(env, "smpp", "credentials", "revoke", "smc_x", "--account", account_id)
    assert code == 2
    assert "Traceback" not in err


def test_password_is_stored_hashed_and_checked(runtime: Runtime) -> None:
    account_id = runtime.accounts.create_account("Acme")["account_id"]
    service = CredentialService(runtime.db, runtime.clock)
    created = service.create(account_id, max_binds=2, max_tps=10)
    with runtime.db.read() as conn:
        stored = conn.execute(select(smpp_credentials.c.password_hash)).scalar_one()
    assert created["password"] not in stored
    assert stored.startswith("$argon2id$")
    found = service.authenticate(created["system_id"], created["password"])
    assert found is not None
    assert (found.account_id, found.max_binds, found.max_tps) == (account_id, 2, 10)
    assert service.authenticate(created["system_id"], "wrong") is None
    assert service.authenticate("nobody", created["password"]) is None
    service.revoke(account_id, created["id"])
    assert service.authenticate(created["system_id"], created["password"]) is None
    assert not service.is_active(created["id"], created["system_id"])


def test_cli_shows_sets_and_clears_account_caps(env: dict[str, str]) -> None:
    account_id = json.loads(run(env, "account", "create", "--name", "A", "--json")[1])["account_id"]
    limits = ("smpp", "limits", "--account", account_id)
    code, out, _ = run(env, *limits, "--json")
    assert code == 0
    assert json.loads(out)["max_binds"] is None  # only each credential's own caps
    code, _, err = run(env, *limits, "--max-binds", "3")
    assert code == 2
    assert "--max-tps" in err  # nothing to keep the other cap from yet
    code, out, _ = run(env, *limits, "--max-binds", "3", "--max-tps", "200", "--json")
    assert code == 0
    assert (json.loads(out)["max_binds"], json.loads(out)["max_tps"]) == (3, 200)
    code, out, _ = run(env, *limits, "--max-tps", "50", "--json")  # the other cap stays
    assert (json.loads(out)["max_binds"], json.loads(out)["max_tps"]) == (3, 50)
    code, _, err = run(env, *limits, "--max-binds", "0")
    assert code == 2
    assert "max_binds" in err
    assert json.loads(run(env, *limits, "--json")[1])["max_binds"] == 3  # unchanged
    code, out, _ = run(env, *limits, "--clear", "--json")
    assert code == 0
    assert json.loads(out)["max_tps"] is None
    code, _, err = run(env, "smpp", "limits", "--account", "acc_nope", "--json")
    assert code == 2
    assert "no active account" in err and "Traceback" not in err
