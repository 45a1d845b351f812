"""`tidings privacy ...`: the registers from the command line, on SQLite and PostgreSQL."""

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
        "TIDINGS_POLICY": "ics",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["privacy", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_subprocessor_add_list_remove(env: dict[str, str]) -> None:
    code, out, err = run(
        env, "subprocessor", "add", "--name", "Hetzner", "--service", "hosting",
        "--region", "eu", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    entry = json.loads(out)
    code, out, _ = run(env, "subprocessor", "list")
    assert code == 0
    assert f"{entry['id']}  Hetzner  (hosting; eu; all)" in out
    assert run(env, "subprocessor", "remove", entry["id"])[0] == 0
    assert json.loads(run(env, "subprocessor", "list", "--json")[1]) == []


@pytest.mark.promise("ICS-10")
def test_a_transfer_without_safeguard_is_one_clear_line(env: dict[str, str]) -> None:
    code, out, err = run(
        env, "subprocessor", "add", "--name", "Twilio", "--service", "SMS",
        "--region", "us",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.startswith("error: 'safeguard' is required: sub-processor 'Twilio' is in")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    code, _, _ = run(
        env, "subprocessor", "add", "--name", "Twilio", "--service", "SMS",
        "--region", "us", "--safeguard", "scc",
    )  # fmt: skip
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("subprocessor", "add", "--name", "X", "--service", "s", "--region", "mars"),
         "error: 'region' 'mars' is not known"),
        (("subprocessor", "add", "--name", "X", "--service", "s", "--region", "us",
          "--safeguard", "pinky-promise"), "error: 'safeguard' 'pinky-promise' is not known"),
        (("subprocessor", "remove", "spr_nope"), "error: no sub-processor 'spr_nope'"),
        (("recipient", "remove", "rcp_nope"), "error: no recipient 'rcp_nope'"),
        (("contact", "add", "--kind", "boss", "--name", "X", "--email", "x@example.com"),
         "error: 'kind' 'boss' is not known"),
        (("contact", "add", "--kind", "dpo", "--name", "X"), "error: 'email' is required"),
        (("authority", "show",), "error: no supervisory authority is registered"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(env, *args)
    assert code == 2, (out, err)
    assert err.startswith(message), err
    assert "Traceback" not in err


def test_contacts_authority_and_recipients(env: dict[str, str]) -> None:
    code, out, _ = run(
        env, "contact", "add", "--kind", "dpo", "--name", "Jane Doe",
        "--email", "dpo@acme.example",
    )  # fmt: skip
    assert code == 0 and "dpo: Jane Doe, dpo@acme.example" in out
    code, out, _ = run(env, "authority", "set", "--name", "CPDP", "--country", "Bulgaria")
    assert (code, out.strip()) == (0, "CPDP, Bulgaria")
    assert run(env, "authority", "show")[1].strip() == "CPDP, Bulgaria"
    assert run(env, "authority", "clear")[0] == 0
    code, out, _ = run(env, "recipient", "add", "--name", "Couriers", "--purpose", "Deliveries")
    assert code == 0 and "Couriers  (Deliveries)" in out


def test_seed_registers_the_sub_processors_the_notice_names(env: dict[str, str]) -> None:
    code, out, _ = run(env, "seed")
    assert code == 0
    assert "policy 'ics': 3 sub-processor(s) registered" in out
    names = [e["name"] for e in json.loads(run(env, "subprocessor", "list", "--json")[1])]
    assert names == ["Amazon Web Services (AWS)", "Heroku", "MongoDB"]  # by name
    assert "0 sub-processor(s)" in run(env, "seed")[1]  # seeding again adds nothing


def test_settings_show_region_and_policy(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "tidings.toml"
    config.write_text('[privacy]\nregion = "uk"\n')
    code, out, _ = run(env, "settings", "--config", str(config), "--json")
    assert code == 0
    assert json.loads(out)["region"] == "uk"
    config.write_text('[privacy]\nregion = "atlantis"\n')
    code, _, err = run(env, "settings", "--config", str(config))
    assert code == 2 and "region 'atlantis' is not known" in err
