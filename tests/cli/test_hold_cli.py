"""`tidings hold create | list | release`."""

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
        "TIDINGS_POLICY": "",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_create_list_release(env: dict[str, str]) -> None:
    account = json.loads(run(env, "account", "create", "--name", "Acme", "--json")[1])["account_id"]
    hold_args = ["--account", account, "--reason", "litigation", "--authority", "Court"]
    code, out, err = run(
        env, "hold", "create", *hold_args, "--subject", "+31612345678",
        "--from", "2025-01-01", "--to", "2025-12-31", "--json",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    hold = json.loads(out)
    assert hold["status"] == "active"
    code, _, err = run(
        env, "hold", "create", *hold_args, "--subject", "+31612345678", "--from", "2025-12-31"
    )
    assert code == 2 and hold["id"] in err and "Traceback" not in err
    code, out, _ = run(env, "hold", "list")
    assert code == 0 and hold["id"] in out and "active" in out and "Court: litigation" in out
    code, out, _ = run(env, "hold", "release", hold["id"])
    assert code == 0 and "released" in out
    code, _, err = run(env, "hold", "release", hold["id"])
    assert code == 2 and "released already" in err
    code, _, err = run(env, "hold", "release", "hld_00000000000000000000000000")
    assert code == 2 and "no hold" in err
    code, _, err = run(env, "hold", "create", *hold_args, "--from", "31/12/2025")
    assert code == 2 and "YYYY-MM-DD" in err
    listed = json.loads(run(env, "hold", "list", "--json")[1])
    assert [h["status"] for h in listed] == ["released"]
