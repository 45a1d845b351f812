from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tidings.cli.main import app


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_account_create_prints_id_and_key_once_as_json(env: dict[str, str]) -> None:
    code, out, _ = run(env, "account", "create", "--name", "Acme", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["account_id"].startswith("acc_")
    assert data["api_key"].startswith("tdk_")
    code, out, _ = run(env, "apikey", "list", "--account", data["account_id"], "--json")
    keys = json.loads(out)
    assert len(keys) == 1
    assert data["api_key"] not in out  # never shown again
    assert data["api_key"].startswith(keys[0]["prefix"])


def test_apikey_create_and_revoke(env: dict[str, str]) -> None:
    account = json.loads(run(env, "account", "create", "--name", "Acme", "--json")[1])
    code, out, _ = run(
        env,
        "apikey",
        "create",
        "--account",
        account["account_id"],
        "--scope",
        "messages:read",
        "--json",
    )
    assert code == 0
    key = json.loads(out)
    assert key["scopes"] == ["messages:read"]
    code, _, _ = run(env, "apikey", "revoke", key["id"], "--account", account["account_id"])
    assert code == 0
    keys = json.loads(run(env, "apikey", "list", "--account", account["account_id"], "--json")[1])
    revoked = [k for k in keys if k["id"] == key["id"]]
    assert revoked[0]["revoked_at"] is not None
    code, _, err = run(env, "apikey", "revoke", key["id"], "--account", account["account_id"])
    assert code == 2
    assert "no active API key" in err


def test_unknown_scope_and_unknown_account_are_clean_errors(env: dict[str, str]) -> None:
    account = json.loads(run(env, "account", "create", "--name", "Acme", "--json")[1])
    code, _, err = run(
        env, "apikey", "create", "--account", account["account_id"], "--scope", "everything"
    )
    assert code == 2
    assert "unknown scope" in err and "Traceback" not in err
    code, _, err = run(env, "apikey", "create", "--account", "acc_nope")
    assert code == 2
    assert "no account" in err


def test_user_create_hashes_the_password(env: dict[str, str]) -> None:
    account = json.loads(run(env, "account", "create", "--name", "Acme", "--json")[1])
    code, out, _ = run(
        env,
        "user",
        "create",
        "--account",
        account["account_id"],
        "--email",
        "Ops@Example.com",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert code == 0
    assert "ops@example.com" in out
    code, _, err = run(
        env,
        "user",
        "create",
        "--account",
        account["account_id"],
        "--email",
        "short@example.com",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 2
    assert "at least 12 characters" in err


def test_number_add_and_list(env: dict[str, str]) -> None:
    account = json.loads(run(env, "account", "create", "--name", "Acme", "--json")[1])
    code, _, _ = run(env, "number", "add", "+14155550100", "--account", account["account_id"])
    assert code == 0
    code, out, _ = run(env, "number", "list", "--account", account["account_id"])
    assert "+14155550100" in out
    code, _, err = run(env, "number", "add", "not-a-number!", "--account", account["account_id"])
    assert code == 2
    assert "'number'" in err


def test_bad_config_file_is_reported_without_a_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[[connectors]]\nname = 'x'\ntype = 'teleport'\n")
    code, _, err = run(env, "db", "upgrade", "--config", str(config))
    assert code == 2
    assert "type 'teleport' is not known" in err
    assert "Traceback" not in err


def test_brackets_in_messages_and_data_are_printed_as_they_are(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[pipeline]\nfoo = 1\n")
    code, _, err = run(env, "db", "upgrade", "--config", str(config))
    assert code == 2
    assert "[pipeline]: unknown key(s) foo" in err  # a section name, not a style
    assert run(env, "account", "create", "--name", "Acme [bold]")[0] == 0
    code, out, _ = run(env, "account", "list")
    assert code == 0
    assert "Acme [bold]" in out


def test_bad_master_key_is_reported(env: dict[str, str]) -> None:
    code, _, err = run({**env, "TIDINGS_MASTER_KEY": "nope"}, "account", "create", "--name", "X")
    assert code == 2
    assert "TIDINGS_MASTER_KEY" in err


def test_send_without_a_key_says_what_to_set() -> None:
    result = CliRunner().invoke(
        app,
        ["send", "--to", "+31612345678", "--from", "A", "--body", "x"],
        env={"TIDINGS_API_KEY": ""},
    )
    assert result.exit_code == 2
    assert "TIDINGS_API_KEY" in result.stderr


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["db", "upgrade", "--help"],
        ["account", "create", "--help"],
        ["apikey", "create", "--help"],
        ["apikey", "list", "--help"],
        ["apikey", "revoke", "--help"],
        ["send", "--help"],
        ["number", "add", "--help"],
        ["user", "create", "--help"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.stdout


def test_an_unreachable_database_is_reported_without_its_password(tmp_path: Path) -> None:
    env = {
        "TIDINGS_DATABASE_URL": "postgresql://app:s3cret-pw@127.0.0.1:1/tidings",
        "TIDINGS_DATA_DIR": str(tmp_path),
    }
    code, _, err = run(env, "db", "upgrade")
    assert code == 2
    assert "cannot open the database" in err
    assert "s3cret-pw" not in err
    assert "Traceback" not in err
