"""`tidings policy check | notice | show | presets`."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tidings.cli.main import app
from tidings.privacy.policy import classified_columns, preset_names
from tidings.store.tables import metadata


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env or {"TIDINGS_POLICY": ""})
    return result.exit_code, result.stdout, result.stderr


def preset_text(name: str) -> str:
    return resources.files("tidings.privacy").joinpath("presets", f"{name}.toml").read_text()


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", preset_names())
def test_check_passes_for_every_preset(name: str) -> None:
    code, out, err = run("policy", "check", "--preset", name)
    assert (code, err) == (0, "")
    assert out.startswith(f"ok: policy {name!r} version 1 (published 2026-11-22): ")
    used = {data.retention for _, data in classified_columns(metadata) if data is not None}
    assert f"covers the {len(used)} retention rules of" in out


def test_check_a_file(tmp_path: Path) -> None:
    code, out, _ = run("policy", "check", str(write(tmp_path, preset_text("icetrak"))))
    assert code == 0
    assert out.startswith("ok: policy 'icetrak'")


def test_check_lists_every_error_and_exits_2(tmp_path: Path) -> None:
    text = (
        preset_text("baseline")
        .replace('period = "7y"', 'period = "7q"')
        .replace('anchor = "account_closed"', 'anchor = "closed"', 1)
        .replace('action = "pseudonymise"', 'action = "scramble"')
    )
    path = write(tmp_path, text)
    code, out, err = run("policy", "check", str(path))
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: policy file {path} has 3 problems:\n")
    assert "  - rule 'account_data', period: '7q' is not a period. Write a whole number" in err
    assert "  - rule 'account_data', anchor: anchor 'closed' is not known. Use one of:" in err
    assert "  - rule 'message_metadata', action: action 'scramble' is not known." in err
    assert "Traceback" not in out + err


def test_check_names_the_columns_of_a_rule_the_policy_lacks(tmp_path: Path) -> None:
    text = preset_text("baseline").replace('name = "message_content"', 'name = "message_text"')
    code, _, err = run("policy", "check", str(write(tmp_path, text)))
    assert code == 2
    assert err.startswith("error: policy 'baseline' has 2 problems:\n")
    assert (
        "  - data map message_bodies.body_enc: retention rule 'message_content' is not defined"
        in err
    )
    assert "message_bodies.body_enc is kept under rule 'message_content', not 'message_text'" in err
    assert 'Add a [[rules]] entry with name = "message_content".' in err


def test_check_reports_a_missing_legal_basis(tmp_path: Path) -> None:
    text = preset_text("baseline").replace("[basis.event_notification]", "[basis.events]")
    code, _, err = run("policy", "check", str(write(tmp_path, text)))
    assert code == 2
    assert "rule 'webhook_delivery': its purpose 'event_notification' has no legal basis" in err
    assert "webhook_deliveries.payload_enc" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--preset", "icetrack"],
            "error: unknown policy preset 'icetrack'; the presets are baseline, bg, bulksms, "
            "icetrak, ics (or give the path of a TOML policy file)\n",
        ),
        (
            ["/nonexistent/policy.toml"],
            "error: policy file /nonexistent/policy.toml does not exist\n",
        ),
        (["p.toml", "--preset", "bg"], "error: give a policy FILE or --preset NAME, not both\n"),
    ],
)
def test_bad_sources_are_clear_messages_not_tracebacks(args: list[str], message: str) -> None:
    for command in ("check", "notice", "show"):
        code, out, err = run("policy", command, *args)
        assert (code, out, err) == (2, "", message)


def test_malformed_toml_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, '[policy]\nname = "x"\nversion = 1 2\n')
    code, _, err = run("policy", "check", str(path))
    assert code == 2
    assert err.startswith(f"error: policy file {path} is not valid TOML: ")
    assert "line 3" in err
    assert "Traceback" not in err


def test_notice_prints_markdown_with_periods_and_version() -> None:
    code, out, _ = run("policy", "notice", "--preset", "icetrak")
    assert code == 0
    assert out.startswith(
        "# Icetrak Limited\u2019s Privacy Notice\n\n*Version 1, published 2026-11-22."
    )
    assert "- **Account data**: 7 years after the account is closed, then deleted." in out


def test_notice_from_a_file_to_an_output_file(tmp_path: Path) -> None:
    source = write(tmp_path, preset_text("bg").replace('version = "1"', 'version = "2026.2"'))
    target = tmp_path / "notice.md"
    code, out, _ = run("policy", "notice", str(source), "--output", str(target))
    assert (code, out) == (0, f"wrote {target}\n")
    assert "*Version 2026.2, published 2026-11-22." in target.read_text()


def test_the_configured_policy_is_used_without_arguments(tmp_path: Path) -> None:
    code, out, _ = run("policy", "check")
    assert (code, out.split(":")[0]) == (0, "ok")
    assert "policy 'baseline'" in out
    code, out, _ = run("policy", "check", env={"TIDINGS_POLICY": "ics"})
    assert "policy 'ics'" in out
    config = write(tmp_path, '[privacy]\npolicy = "bulksms"\n', "tidings.toml")
    code, out, _ = run("policy", "notice", "--config", str(config))
    assert code == 0 and out.startswith("# Privacy Policy | BulkSMS.com")
    broken = write(tmp_path, "[privacy]\npolicy = 3\n", "broken.toml")
    code, _, err = run("policy", "check", "--config", str(broken))
    assert (code, err) == (2, "error: [privacy]: 'policy' must be a string, got 3\n")


def test_show_lists_rules_in_words() -> None:
    code, out, _ = run("policy", "show", "--preset", "bg")
    assert code == 0
    assert out.startswith("Privacy notice (policy 'bg', version 1)\n")
    assert (
        "  Data processed on consent: 12 months after it is collected, or until consent is "
        "withdrawn if that comes first, then deleted [direct_marketing: consent]\n"
    ) in out
    code, out, _ = run("policy", "show", "--preset", "ics", "--json")
    rules = {r["rule"]: r for r in json.loads(out)["rules"]}
    assert rules["contract_data"]["period"] == "10y"
    assert rules["contract_data"]["anchor"] == "relationship_end"
    assert rules["contract_data"]["basis"] == "contract"
    assert rules["with_parent"]["action"] is None


def test_presets_lists_them_and_marks_the_default() -> None:
    code, out, _ = run("policy", "presets")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == preset_names()
    assert lines[0].startswith("baseline") and lines[0].endswith("(default)")
