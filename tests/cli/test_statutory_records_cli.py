"""`tidings billing statements` and `tidings privacy authority-requests`."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from tests.privacy.retention_support import at, message_at
from tidings.cli.main import app
from tidings.core.clock import ManualClock
from tidings.core.config import load_settings
from tidings.runtime import build_runtime
from tidings.store.tables import messages


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TIDINGS_DATABASE_URL": database_url,
        "TIDINGS_DATA_DIR": str(tmp_path / "data"),
        "TIDINGS_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "TIDINGS_POLICY": "bg",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def account(env: dict[str, str]) -> str:
    code, out, err = run(env, "account", "create", "--name", "Acme", "--json")
    assert code == 0, err
    return str(json.loads(out)["account_id"])


def test_statements_refuse_bad_input(env: dict[str, str]) -> None:
    acme = account(env)
    # the account was opened today: last month has no statement for it
    code, out, err = run(env, "billing", "statements", "issue", "--period", "2026-01")
    assert (code, err) == (0, "") and "issued 0 statement(s); 0 issued before" in out
    code, _, err = run(
        env, "billing", "statements", "issue", "--period", "2026-01", "--account", acme
    )
    assert code == 2 and "was not open in 2026-01" in err and "Traceback" not in err
    for bad, says in (("2026-13", "YYYY-MM"), ("2099-01", "has not ended")):
        code, _, err = run(env, "billing", "statements", "issue", "--period", bad)
        assert code == 2 and says in err, err
    code, _, err = run(
        env, "billing", "statements", "issue", "--period", "2026-01", "--account", "acc_nope"
    )
    assert code == 2 and "no account 'acc_nope'" in err
    code, out, _ = run(env, "billing", "statements", "list", "--json")
    assert code == 0 and json.loads(out) == []
    code, _, err = run(env, "billing", "statements", "show", "stm_00000000000000000000000000")
    assert code == 2 and "no statement" in err
    code, _, err = run(env, "billing", "statements", "list", "--period", "01-2026")
    assert code == 2 and "YYYY-MM" in err


def test_a_statement_is_issued_once_at_the_configured_rates(
    env: dict[str, str], tmp_path: Path
) -> None:
    clock = ManualClock(at(2026, 1, 5))
    rt = build_runtime(load_settings(None, env), clock)
    try:
        acme = str(rt.accounts.create_account("Acme")["account_id"])
        message_id = message_at(rt, clock, acme, at(2026, 1, 10))
        with rt.db.write() as conn:
            conn.execute(
                update(messages)
                .where(messages.c.id == message_id)
                .values(sent_at=at(2026, 1, 10), segments=2)
            )
    finally:
        rt.close()
    config = tmp_path / "tidings.toml"
    config.write_text('[billing]\ncurrency = "BGN"\n[billing.prices.sms]\noutbound = "0.045"\n')
    issue = ["billing", "statements", "issue", "--period", "2026-01", "--config", str(config)]
    code, out, err = run(env, *issue, "--account", acme, "--json")
    assert (code, err) == (0, ""), err
    statement = json.loads(out)
    assert (statement["total"], statement["currency"], statement["segments"]) == (
        "0.09000",
        "BGN",
        2,
    )
    code, out, _ = run(env, *issue)
    assert code == 0 and "issued 0 statement(s); 1 issued before" in out
    code, out, _ = run(env, "billing", "statements", "show", statement["id"])
    assert code == 0 and "sms" in out and "2 segment(s) x 0.04500 = 0.09000" in out
    code, out, _ = run(env, "billing", "statements", "list", "--account", acme)
    assert code == 0 and statement["id"] in out and "0.09000 BGN" in out


def test_authority_requests_add_list_show_answer(env: dict[str, str]) -> None:
    acme = account(env)
    add = ["privacy", "authority-requests", "add", "--legal-basis", "Art. 186 CPC",
           "--requested", "messages to +359888123456"]  # fmt: skip
    code, _, err = run(env, *add, "--authority", " ")
    assert code == 2 and "'authority' is required" in err and "Traceback" not in err
    code, _, err = run(env, *add, "--authority", "Court", "--received", "27.02.2026")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = run(env, *add, "--authority", "Court", "--subject", "12")
    assert code == 2 and "subject" in err
    assert json.loads(run(env, "privacy", "authority-requests", "list", "--json")[1]) == []
    code, out, err = run(
        env, *add, "--authority", "Sofia District Court", "--reference", "1234/2026",
        "--account", acme, "--subject", "+359888123456", "--received", "2026-02-27", "--json",
    )  # fmt: skip
    assert (code, err) == (0, ""), err
    entry = json.loads(out)
    assert entry["status"] == "open" and entry["subject"] == "+359888123456"
    code, out, _ = run(env, "privacy", "authority-requests", "list", "--account", acme)
    assert code == 0 and entry["id"] in out and "Sofia District Court (1234/2026)" in out
    code, out, _ = run(env, "privacy", "authority-requests", "show", entry["id"])
    assert code == 0 and "legal_basis: Art. 186 CPC" in out
    answer = ["privacy", "authority-requests", "answer", entry["id"]]
    code, out, err = run(env, *answer, "--disclosed", "the delivery log", "--json")
    assert (code, err) == (0, ""), err
    assert json.loads(out)["status"] == "answered"
    code, _, err = run(env, *answer, "--disclosed", "again")
    assert code == 2 and "answered already" in err
    code, _, err = run(env, "privacy", "authority-requests", "show", "arq_nope")
    assert code == 2 and "no authority request" in err
