"""`tidings contacts ...` and `tidings lists ...` against a real database."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tidings.cli.main import app, open_runtime


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


@pytest.fixture
def account(env: dict[str, str]) -> str:
    code, out, _ = run(env, "account", "create", "--name", "Acme", "--json")
    assert code == 0
    return str(json.loads(out)["account_id"])


def test_add_show_list_delete(env: dict[str, str], account: str) -> None:
    assert (
        run(
            env,
            "contacts",
            "fields",
            "add",
            "tier",
            "enum",
            "--account",
            account,
            "--option",
            "gold",
            "--option",
            "silver",
        )[0]
        == 0
    )
    assert run(env, "lists", "create", "Customers", "--account", account)[0] == 0
    code, out, err = run(
        env,
        "contacts",
        "add",
        "+31 6 12345678",
        "--account",
        account,
        "--first-name",
        "Ana",
        "--tag",
        "vip",
        "--field",
        "tier=gold",
        "--list",
        "Customers",
        "--json",
    )
    assert code == 0, err
    contact = json.loads(out)
    assert contact["number"] == "+31612345678" and contact["fields"] == {"tier": "gold"}
    assert len(contact["lists"]) == 1
    code, out, _ = run(env, "contacts", "show", "0031612345678", "--account", account, "--json")
    assert code == 0 and json.loads(out)["id"] == contact["id"]
    code, out, _ = run(env, "contacts", "list", "--account", account, "--list", "Customers")
    assert code == 0 and contact["id"] in out and "Ana" in out
    code, out, _ = run(env, "contacts", "list", "--account", account, "--field", "tier=silver")
    assert code == 0 and contact["id"] not in out
    code, out, _ = run(env, "lists", "list", "--account", account)
    assert "Customers" in out and " 1 " in out
    assert run(env, "contacts", "delete", contact["id"], "--account", account)[0] == 0
    code, _, err = run(env, "contacts", "show", contact["id"], "--account", account)
    assert code == 2 and "no contact" in err and "Traceback" not in err


def test_bad_input_is_one_line_and_exit_2(env: dict[str, str], account: str) -> None:
    for args, words in [
        (("contacts", "add", "12345"), "'number'"),
        (("contacts", "add", "+31612345678", "--field", "x"), "KEY=VALUE"),
        (("contacts", "add", "+31612345678", "--list", "Nope"), "no list named"),
        (("contacts", "fields", "add", "k", "color"), "'type'"),
        (("lists", "delete", "Nope"), "no list named"),
    ]:
        code, out, err = run(env, *args, "--account", account)
        assert code == 2, (args, out, err)
        assert words in err and "Traceback" not in err, (args, err)


def test_import_and_export(env: dict[str, str], account: str, tmp_path: Path) -> None:
    assert run(env, "lists", "create", "Customers", "--account", account)[0] == 0
    source = tmp_path / "in.csv"
    source.write_text("Mobile;Name;Notes\n+31612345678;Ana;x\n98765;Bo;y\n", encoding="cp1252")
    code, out, err = run(
        env,
        "contacts",
        "import",
        str(source),
        "--account",
        account,
        "--list",
        "Customers",
        "--map",
        "Name=first_name",
        "--map",
        "Notes=",
    )
    assert code == 0, err
    assert "Windows-1252" in out or "UTF-8" in out
    assert "1 created, 0 updated, 1 refused" in out and "line 3, column 'Mobile'" in out
    import_id = out.split(":")[0]
    code, out, _ = run(env, "contacts", "import-errors", import_id, "--account", account)
    assert code == 0 and out.splitlines()[1].startswith("3,Mobile,")
    target = tmp_path / "out.csv"
    code, _, err = run(
        env, "contacts", "export", "--account", account, "--list", "Customers", "-o", str(target)
    )
    assert code == 0, err
    exported = target.read_text().splitlines()
    assert len(exported) == 2 and "+31612345678,Ana" in exported[1]
    code, out, _ = run(env, "contacts", "export", "--account", account, "--format", "jsonl")
    assert code == 0 and json.loads(out)["first_name"] == "Ana"
    code, _, err = run(env, "contacts", "import", str(source), "--account", account)
    assert code == 2 and "'Name' matches no contact attribute" in err
    code, _, err = run(env, "contacts", "import", "--account", account)
    assert code == 2 and "--resume" in err


def test_import_with_a_consent_column(
    env: dict[str, str], account: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "crm.csv"
    source.write_text("Phone,SMS opt-in\n+31612345678,yes\n+31612345679,perhaps\n")
    mapping = ("--map", "SMS opt-in=consent:sms:marketing")
    code, out, err = run(env, "contacts", "import", str(source), "--account", account, *mapping)
    assert code == 0, err
    assert "1 created, 0 updated, 1 refused" in out and "line 3, column 'SMS opt-in'" in out
    code, out, err = run(env, "contacts", "import", str(source), "--account", account, *mapping)
    assert code == 0 and "0 created, 1 updated, 1 refused" in out, err
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rt = open_runtime(None)
    try:
        ledger = rt.consent.consents_of_number(account, "+31612345678")
    finally:
        rt.close()
    (event,) = ledger["history"]  # the second import changed nothing
    assert (event["action"], event["source"]) == ("granted", "import")
    assert (event["evidence"]["file"], event["evidence"]["line"]) == ("crm.csv", 2)
    code, _, err = run(
        env,
        "contacts",
        "import",
        str(source),
        "--account",
        account,
        "--map",
        "SMS opt-in=consent:fax:Promo",
    )
    assert code == 2 and "'purpose'" in err and "Traceback" not in err
