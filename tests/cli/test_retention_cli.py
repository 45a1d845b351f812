"""`tidings retention run | log`."""

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
        "TIDINGS_POLICY": "icetrak",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_then_run_then_log(env: dict[str, str]) -> None:
    code, out, err = run(env, "retention", "run", "--dry-run", "--now", "2040-01-01T00:00:00Z")
    assert (code, err) == (0, ""), err
    assert "dry run at 2040-01-01T00:00:00Z under policy 'icetrak' version 1" in out
    assert "message_content" in out and "redact" in out
    assert json.loads(run(env, "retention", "log", "--json")[1]) == []
    code, out, _ = run(env, "retention", "run", "--now", "2040-01-01T00:00:00Z", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["policy"] == {"name": "icetrak", "version": "1"} and report["run_id"]
    code, _, err = run(env, "retention", "run", "--now", "2039-12-31T00:00:00Z")
    assert code == 2 and "before the last sweep" in err and "Traceback" not in err
    code, _, err = run(env, "retention", "run", "--now", "yesterday")
    assert code == 2 and "ISO-8601" in err
    code, _, err = run(env, "retention", "run", "--now", "2041-01-01T00:00:00")
    assert code == 2 and "time zone" in err
    code, out, _ = run(env, "retention", "log")
    assert code == 0 and report["run_id"] in out and "version 1" in out and "finished" in out
    code, _, err = run(env, "retention", "log", "--limit", "0")
    assert code == 2 and "limit" in err
