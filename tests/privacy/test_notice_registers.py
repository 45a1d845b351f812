"""The notice shows the registers' contacts, authority and sub-processors, as the record does."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tidings.cli.main import app
from tidings.domain.policy import Authority
from tidings.privacy.effective import with_registers
from tidings.privacy.notice import render_notice
from tidings.privacy.policy import load_preset
from tidings.privacy.registers import ContactEntry, Registers, SubProcessorEntry
from tidings.store.tables import metadata

REGISTERS = Registers(
    region="eu",
    subprocessors=(SubProcessorEntry("spr_1", "Twilio", "SMS delivery", "us", "scc", "all"),),
    contacts=(
        ContactEntry("pct_1", "dpo", "Jane Doe", "dpo@acme.example", None, None),
        ContactEntry(
            "pct_2", "privacy_contact", "Privacy desk", "privacy@acme.example", None, None
        ),
    ),
    authority=Authority(
        "Information Commissioner's Office", "United Kingdom", "https://ico.org.uk"
    ),
)


def test_the_registers_complete_the_notice() -> None:
    policy = load_preset("baseline")
    plain = render_notice(policy, metadata)
    notice = render_notice(with_registers(policy, REGISTERS), metadata)
    for text in (
        "Data protection officer: Jane Doe, dpo@acme.example",
        "Privacy contact: Privacy desk, privacy@acme.example",
        "**Information Commissioner's Office** (United Kingdom), https://ico.org.uk",
        "### Sub-processors",
        "- **Twilio**: SMS delivery; United States; transfer under Standard contractual "
        "clauses (Art. 46(2)(c) GDPR).",
        "- Twilio, in United States: only with Standard contractual clauses",
    ):
        assert text in notice
        assert text not in plain


def test_a_policy_without_registers_keeps_its_own_contacts() -> None:
    policy = load_preset("icetrak")
    notice = render_notice(with_registers(policy, Registers(region="uk")), metadata)
    assert (
        "Data protection officer: Privacy team and Data Protection Officer, dpo@icetrak.net"
        in notice
    )
    assert "Privacy contact: dpo@icetrak.net" in notice


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


@pytest.mark.promise("ICS-13")
def test_notice_and_record_name_the_same_contact_and_dpo(env: dict[str, str]) -> None:
    assert run(env, "privacy", "contact", "add", "--kind", "dpo", "--name", "Ivan Petrov",
               "--email", "dpo@example.bg")[0] == 0  # fmt: skip
    assert run(env, "privacy", "contact", "add", "--kind", "privacy_contact", "--name",
               "Privacy desk", "--email", "privacy@example.bg")[0] == 0  # fmt: skip
    code, notice, _ = run(env, "policy", "notice")
    assert code == 0
    assert "Data protection officer: Ivan Petrov, dpo@example.bg" in notice
    assert "Privacy contact: Privacy desk, privacy@example.bg" in notice

    ropa = json.loads(run(env, "privacy", "ropa", "--format", "json")[1])
    for record in ropa["records"]:
        parties = {e["name"]: e["value"] for e in record["elements"][0]["entries"]}
        assert parties["Data protection officer"] == "Ivan Petrov, dpo@example.bg"
        assert parties["Privacy contact"] == "Privacy desk, privacy@example.bg"

    code, plain, _ = run(env, "policy", "notice", "--no-registers")
    assert code == 0 and "Ivan Petrov" not in plain
    code, preset, _ = run(env, "policy", "notice", "--preset", "bg")
    assert code == 0 and "Ivan Petrov" not in preset  # a preset is the document alone


def test_notice_without_a_database_creates_none(tmp_path: Path) -> None:
    data = tmp_path / "nothing-here"
    env = {"TIDINGS_DATA_DIR": str(data), "TIDINGS_POLICY": "baseline"}
    code, notice, err = run(env, "policy", "notice")
    assert (code, err) == (0, "")
    assert notice.startswith("# ")
    assert not data.exists()


def test_every_contact_of_a_kind_is_shown() -> None:
    two = Registers(
        region="eu",
        contacts=(
            ContactEntry("pct_1", "dpo", "Jane Doe", "jane@acme.example", None, None),
            ContactEntry("pct_2", "dpo", "John Roe", None, "+359 2 000 0000", None),
        ),
    )
    policy = with_registers(load_preset("baseline"), two)
    assert policy.controller.dpo == "Jane Doe, jane@acme.example; John Roe, +359 2 000 0000"
