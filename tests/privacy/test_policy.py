"""Policy as code: reading policy documents, the shipped presets, and the check against the
real data map. Conformance tests name the promise whose retention period they prove."""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table

from tests.conftest import service_missing
from tidings.core.config import ConfigError, load_settings
from tidings.domain.classification import INFO_KEY
from tidings.domain.policy import PolicyInvalid, Problem, expires_at, is_expired
from tidings.privacy.document import parse_policy
from tidings.privacy.policy import (
    DEFAULT_PRESET,
    PolicyError,
    check,
    configured_source,
    load_configured_policy,
    load_file,
    load_policy,
    load_preset,
    preset_names,
)
from tidings.store.tables import metadata

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_NOTICES = {"ics": ["000"], "icetrak": ["001", "003"], "bg": ["002"], "bulksms": ["004"]}
STATED = {  # the rules that reproduce a sentence of the notice
    "ics": ["contract_data", "pre_contract", "legitimate_interest", "inquiry", "account_data"],
    "icetrak": ["account_data", "message_metadata", "message_content"],
    "bg": [
        "user_data",
        "contract_data",
        "accounting",
        "court_information",
        "marketing_consent",
        "account_data",
    ],
    "bulksms": ["compliance_archive", "account_data", "data_key"],
}


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, 30, tzinfo=UTC)


def baseline() -> dict[str, Any]:
    text = resources.files("tidings.privacy").joinpath("presets", "baseline.toml").read_text()
    return tomllib.loads(text)


def rule_of(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in data["rules"] if r["name"] == name)
    return found


def problems_of(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(data)
    return list(caught.value.problems)


def one(problems: list[Problem], where: str) -> Problem:
    matching = [p for p in problems if p.where == where]
    assert len(matching) == 1, problems
    return matching[0]


def data_map_columns(retention: str) -> list[str]:
    return sorted(
        f"{t.name}.{c.name}"
        for t in metadata.sorted_tables
        for c in t.columns
        if c.info[INFO_KEY].retention == retention
    )


# --- presets ------------------------------------------------------------------------


def test_the_presets_are_shipped() -> None:
    assert preset_names() == ["baseline", "bg", "bulksms", "icetrak", "ics"]
    assert DEFAULT_PRESET in preset_names()


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_passes_the_check_against_the_real_data_map(name: str) -> None:
    policy = load_preset(name)
    assert policy.name == name
    assert check(policy, metadata) == []


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_defines_every_retention_rule_the_data_map_uses(name: str) -> None:
    used = {c.info[INFO_KEY].retention for t in metadata.sorted_tables for c in t.columns}
    assert used <= load_preset(name).rule_names


@pytest.mark.parametrize("name", sorted(SEED_NOTICES))
def test_seed_presets_quote_their_notice_verbatim(name: str) -> None:
    if not SEEDS.is_dir():
        service_missing(f"the seed notices are not at {SEEDS} (they sit beside the repository)")

    def flat(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    notices = [flat(next(SEEDS.glob(f"{n}_*.txt")).read_text()) for n in SEED_NOTICES[name]]
    policy = load_preset(name)
    quoted = [
        *(r.source for r in policy.rules),
        *(b.source for b in policy.bases),
        *(r.source for r in policy.recipients),
        *(t.source for t in policy.transfers),
        *(s.source for s in policy.subprocessors),
        policy.rights.source,
    ]
    assert [q for q in quoted if q and not all(flat(q) in n for n in notices)] == []
    assert [n for n in STATED[name] if not getattr(policy.rule(n), "source", "")] == []


# --- conformance: the preset's rule gives exactly the promised expiry ------------------


def case(
    name: str,
    preset: str,
    rule: str,
    anchors: dict[str, datetime],
    expiry: datetime,
    basis: str,
    promise: str | None = None,
) -> Any:
    marks = [pytest.mark.promise(promise)] if promise else []
    return pytest.param(preset, rule, anchors, expiry, basis, marks=marks, id=name)


PERIOD_CASES = [
    case(
        "ICS-06 contract data 10y after the relationship ends",
        "ics",
        "contract_data",
        {"relationship_end": at(2016, 2, 29)},
        at(2026, 2, 28),
        "contract",
        "ICS-06",
    ),
    case(
        "ICS-06 account data 10y after closing",
        "ics",
        "account_data",
        {"collected": at(2012, 5, 1), "account_closed": at(2016, 3, 31)},
        at(2026, 3, 31),
        "contract",
        "ICS-06",
    ),
    case(
        "ICS-07 pre-contract 30d",
        "ics",
        "pre_contract",
        {"collected": at(2025, 1, 31)},
        at(2025, 3, 2),
        "contract",
        "ICS-07",
    ),
    case(
        "ICS-08 legitimate interest 12m",
        "ics",
        "legitimate_interest",
        {"collected": at(2024, 2, 29)},
        at(2025, 2, 28),
        "legitimate_interest",
        "ICS-08",
    ),
    case(
        "ICE-06 account data 7y after closing",
        "icetrak",
        "account_data",
        {"collected": at(2015, 1, 1), "account_closed": at(2019, 12, 31)},
        at(2026, 12, 31),
        "legitimate_interest",
        "ICE-06",
    ),
    case(
        "BG-03 user data 2y",
        "bg",
        "user_data",
        {"collected": at(2024, 2, 29)},
        at(2026, 2, 28),
        "contract",
        "BG-03",
    ),
    case(
        "BG-07 contract data 2y after it ends",
        "bg",
        "contract_data",
        {"collected": at(2020, 1, 1), "relationship_end": at(2025, 6, 30)},
        at(2027, 6, 30),
        "contract",
        "BG-07",
    ),
    case(
        "BG-07 account data 2y after closing",
        "bg",
        "account_data",
        {"account_closed": at(2025, 8, 31)},
        at(2027, 8, 31),
        "contract",
        "BG-07",
    ),
    # BG-08's records are proven on stored data in tests/conformance/test_statutory_records.py.
    case(
        "BG-08 accounting 11y",
        "bg",
        "accounting",
        {"collected": at(2024, 2, 29)},
        at(2035, 2, 28),
        "legal_obligation",
        "BG-08",
    ),
    case(
        "BG-08 court information 5y",
        "bg",
        "court_information",
        {"collected": at(2021, 10, 1)},
        at(2026, 10, 1),
        "legal_obligation",
        "BG-08",
    ),
    # BG-09 also promises what this slice does not do (consent data never shared), so this
    # checks the period without claiming it.
    case(
        "BG-09 consent 12m",
        "bg",
        "marketing_consent",
        {"collected": at(2025, 1, 31)},
        at(2026, 1, 31),
        "consent",
    ),
]


@pytest.mark.parametrize(("preset", "rule_name", "anchors", "expiry", "basis"), PERIOD_CASES)
def test_preset_rule_expires_exactly_when_the_notice_says(
    preset: str, rule_name: str, anchors: dict[str, datetime], expiry: datetime, basis: str
) -> None:
    policy = load_preset(preset)
    rule = policy.rule(rule_name)
    assert rule is not None and rule.purpose is not None
    assert expires_at(rule, anchors) == expiry
    assert not is_expired(rule, anchors, expiry - timedelta(days=1))
    assert not is_expired(rule, anchors, expiry - timedelta(seconds=1))
    assert is_expired(rule, anchors, expiry)
    assert is_expired(rule, anchors, expiry + timedelta(days=1))
    assert rule.action == "delete"
    legal = policy.basis_for(rule.purpose)
    assert legal is not None and legal.basis == basis


@pytest.mark.promise("ICE-06")
def test_icetrak_account_data_is_kept_while_the_account_is_open() -> None:
    rule = load_preset("icetrak").rule("account_data")
    assert rule is not None
    open_account = {"collected": at(2000, 1, 1), "last_activity": at(2001, 1, 1)}
    assert expires_at(rule, open_account) is None
    assert not is_expired(rule, open_account, at(2090, 1, 1))


def test_bg_consent_data_goes_at_withdrawal_when_that_comes_first() -> None:
    """BG-09's period: "at your request or 12 months after their initial collection"."""
    rule = load_preset("bg").rule("marketing_consent")
    assert rule is not None
    anchors = {"collected": at(2025, 1, 31), "withdrawn": at(2025, 3, 15)}
    assert expires_at(rule, anchors) == at(2025, 3, 15)
    assert not is_expired(rule, anchors, at(2025, 3, 14))
    assert is_expired(rule, anchors, at(2025, 3, 16))


def test_bulksms_backups_last_no_longer_than_the_compliance_period() -> None:
    """BSMS-17's period: back-ups (unreadable once the data key is destroyed) end with the
    legal-compliance rule. Deleting keys is a later slice, so the promise is not claimed."""
    policy = load_preset("bulksms")
    compliance, key = policy.rule("compliance_archive"), policy.rule("data_key")
    assert compliance is not None and key is not None and compliance.purpose is not None
    legal = policy.basis_for(compliance.purpose)
    assert legal is not None and legal.basis == "legal_obligation"
    ended = at(2024, 2, 29)
    key_expiry = expires_at(key, {"account_closed": ended})
    assert key_expiry is not None
    assert key_expiry == expires_at(compliance, {"relationship_end": ended}) == at(2029, 2, 28)


@pytest.mark.promise("ICS-05")
def test_every_ics_purpose_carries_its_legal_basis() -> None:
    """Each purpose of a personal column and of a rule has a basis: contract or
    pre-contract (Art. 6(1)(b)) or legitimate interest as controller, the account's
    instructions as processor; and the check fails as soon as one is missing."""
    policy = load_preset("ics")
    purposes = {c.info[INFO_KEY].purpose for t in metadata.sorted_tables for c in t.columns}
    personal = {
        c.info[INFO_KEY].purpose
        for t in metadata.sorted_tables
        for c in t.columns
        if c.info[INFO_KEY].personal
    }
    needed = personal | {r.purpose for r in policy.rules if r.purpose}
    for purpose in needed:
        basis = policy.basis_for(purpose)
        assert basis is not None, purpose
        assert basis.basis in ("contract", "legitimate_interest", "processor_instruction")
        assert basis.article in ("Art. 6(1)(b) GDPR", "Art. 6(1)(f) GDPR", "Art. 28 GDPR")
    assert purposes - personal, "non-personal purposes exist and need no basis"
    for purpose in sorted(needed):
        without = replace(policy, bases=tuple(b for b in policy.bases if b.purpose != purpose))
        assert any(purpose in p.message for p in check(without, metadata)), purpose


# --- reading a policy document: each mistake is named -----------------------------------


def test_the_baseline_document_reads() -> None:
    policy = parse_policy(baseline())
    assert policy.name == "baseline"
    key = policy.rule("data_key")
    account = policy.rule("account_data")
    assert key is not None and account is not None
    assert (key.period, key.anchor, key.same_as) == (account.period, account.anchor, "account_data")
    assert policy.basis_for("account_management") is not None


def test_a_malformed_period_names_the_rule_and_how_to_write_one() -> None:
    data = baseline()
    rule_of(data, "account_data")["period"] = "7q"
    problem = one(problems_of(data), "rule 'account_data', period")
    assert problem.message == "'7q' is not a period"
    assert 'like "7y"' in problem.fix


def test_an_unknown_anchor_lists_the_anchors() -> None:
    data = baseline()
    rule_of(data, "account_data")["anchor"] = "closed"
    problem = one(problems_of(data), "rule 'account_data', anchor")
    assert problem.message == "anchor 'closed' is not known"
    assert "collected, last_activity, relationship_end, account_closed, withdrawn" in problem.fix


def test_an_unknown_until_event_is_named() -> None:
    data = baseline()
    rule_of(data, "account_data")["until"] = ["revoked"]
    assert (
        "until 'revoked' is not known"
        in one(problems_of(data), "rule 'account_data', until").message
    )


def test_an_unknown_action_lists_the_actions() -> None:
    data = baseline()
    rule_of(data, "webhook_delivery")["action"] = "shred"
    problem = one(problems_of(data), "rule 'webhook_delivery', action")
    assert problem.message == "action 'shred' is not known"
    assert "delete, redact, pseudonymise, anonymise" in problem.fix


def test_redact_needs_fields_and_delete_takes_none() -> None:
    data = baseline()
    del rule_of(data, "message_content")["fields"]
    rule_of(data, "webhook_delivery")["fields"] = ["webhook_deliveries.payload_enc"]
    problems = problems_of(data)
    assert "needs the fields" in one(problems, "rule 'message_content'").message
    assert "fields do not apply" in one(problems, "rule 'webhook_delivery'").message


def test_an_unknown_rule_referenced_by_same_as_is_named() -> None:
    data = baseline()
    rule_of(data, "data_key")["same_as"] = "acount_data"
    problem = one(problems_of(data), "rule 'data_key'")
    assert problem.message == "same_as names rule 'acount_data', which the policy does not define"
    assert "account_data" in problem.fix


def test_same_as_in_a_circle_is_refused() -> None:
    data = baseline()
    data["rules"].append({"name": "loop", "same_as": "data_key", "purpose": "encryption"})
    rule_of(data, "data_key")["same_as"] = "loop"
    problems = problems_of(data)
    assert any(
        "circle" in p.message and "data_key -> loop -> data_key" in p.message for p in problems
    )


def test_a_rule_without_timing_and_one_following_its_record_with_timing() -> None:
    data = baseline()
    del rule_of(data, "webhook_delivery")["period"]
    del rule_of(data, "webhook_delivery")["anchor"]
    rule_of(data, "with_parent")["period"] = "1d"
    problems = problems_of(data)
    assert "neither how long nor until when" in one(problems, "rule 'webhook_delivery'").message
    assert "cannot set period" in one(problems, "rule 'with_parent'").message


def test_unknown_keys_and_sections_are_typos_to_fix() -> None:
    data = baseline()
    rule_of(data, "account_data")["peroid"] = "7y"
    data["retention"] = {}
    problems = problems_of(data)
    assert "unknown key 'peroid'" in one(problems, "rule 'account_data'").message
    assert "unknown section 'retention'" in one(problems, "policy file").message


def test_a_duplicate_rule_and_a_missing_name() -> None:
    data = baseline()
    data["rules"].append(copy.deepcopy(rule_of(data, "account_data")))
    data["rules"].append({"period": "1y", "purpose": "x"})
    problems = problems_of(data)
    assert one(problems, "rule 'account_data'").message == "is defined more than once"
    assert one(problems, f"[[rules]] #{len(data['rules'])}").message == "'name' is missing"


def test_a_basis_must_be_a_known_legal_basis() -> None:
    data = baseline()
    data["basis"]["account_management"]["basis"] = "vibes"
    del data["basis"]["authentication"]["basis"]
    problems = problems_of(data)
    assert (
        "basis 'vibes' is not known" in one(problems, "[basis.account_management], basis").message
    )
    assert one(problems, "[basis.authentication]").message == "'basis' is missing"


def test_a_transfer_needs_a_recorded_safeguard() -> None:
    data = baseline()
    data["transfers"] = [{"destination": "United States", "safeguards": []}]
    problem = one(problems_of(data), "[[transfers]] #1")
    assert problem.message == "a transfer needs at least one recorded safeguard"


def test_version_published_and_controller_are_required() -> None:
    data = baseline()
    del data["policy"]["version"]
    data["policy"]["published"] = "next week"
    del data["controller"]["contact"]
    problems = problems_of(data)
    assert any(p.where == "[policy]" and p.message == "'version' is missing" for p in problems)
    assert any(p.where == "[policy]" and "is not a date" in p.message for p in problems)
    assert one(problems, "[controller]").message == "'contact' is missing"


def test_every_problem_is_reported_at_once() -> None:
    data = baseline()
    rule_of(data, "account_data")["period"] = "7q"
    rule_of(data, "message_content")["anchor"] = "sent"
    rule_of(data, "webhook_delivery")["action"] = "burn"
    assert len(problems_of(data)) == 3


# --- the check against the data map --------------------------------------------------


def test_a_rule_name_the_data_map_uses_but_the_policy_lacks_names_its_columns() -> None:
    data = baseline()
    data["rules"] = [r for r in data["rules"] if r["name"] != "message_content"]
    problems = check(parse_policy(data), metadata)
    assert len(problems) == 1
    assert problems[0].where == "data map " + ", ".join(data_map_columns("message_content"))
    assert "message_bodies.body_enc" in problems[0].where
    assert problems[0].message == "retention rule 'message_content' is not defined by the policy"
    assert 'name = "message_content"' in problems[0].fix


def test_a_purpose_without_legal_basis_is_reported_for_rule_and_columns() -> None:
    data = baseline()
    del data["basis"]["account_management"]
    problems = check(parse_policy(data), metadata)
    wheres = [p.where for p in problems]
    assert "rule 'account_data'" in wheres
    columns = next(p for p in problems if p.where.startswith("data map"))
    assert "accounts.name_enc" in columns.where and "users.email_enc" in columns.where
    assert columns.message == "purpose 'account_management' has no legal basis in the policy"


def test_a_basis_that_contradicts_the_columns_role_is_reported() -> None:
    data = baseline()
    data["basis"]["message_delivery"]["basis"] = "legitimate_interest"
    data["basis"]["account_management"]["basis"] = "processor_instruction"
    problems = check(parse_policy(data), metadata)
    assert 'basis = "processor_instruction"' in one(problems, "[basis.message_delivery]").fix
    assert "controller" in one(problems, "[basis.account_management]").message


def test_rule_fields_must_be_columns_under_that_rule() -> None:
    data = baseline()
    rule_of(data, "message_content")["fields"] = ["messages.body", "messages.sender_enc"]
    problems = check(parse_policy(data), metadata)
    assert [p.message for p in problems if p.where == "rule 'message_content', fields"] == [
        "messages.body is not a column of the data map",
        "messages.sender_enc is kept under rule 'message_metadata', not 'message_content'",
    ]


def test_an_unclassified_column_is_reported() -> None:
    scratch = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(scratch)
    Table("scratch", scratch, Column("phone", String(20)))
    problems = check(load_preset(DEFAULT_PRESET), scratch)
    assert [(p.where, p.message) for p in problems] == [
        ("data map scratch.phone", "the column has no data classification")
    ]


# --- loading: presets, files, configuration ---------------------------------------------


def test_load_policy_takes_a_preset_name_or_a_path(tmp_path: Path) -> None:
    assert load_policy("icetrak").name == "icetrak"
    path = tmp_path / "ours.toml"
    path.write_text(resources.files("tidings.privacy").joinpath("presets", "bg.toml").read_text())
    assert load_policy(str(path)).name == "bg"
    assert load_policy(path).name == "bg"
    assert load_file(path).name == "bg"


def test_an_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy("icetrack")
    assert caught.value.detail == (
        "unknown policy preset 'icetrack'; the presets are baseline, bg, bulksms, icetrak, ics "
        "(or give the path of a TOML policy file)"
    )


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy file .*nope\.toml does not exist"):
        load_policy(str(tmp_path / "nope.toml"))


def test_malformed_toml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[policy]\nname = "x"\n[[rules]\n')
    with pytest.raises(PolicyError) as caught:
        load_file(path)
    assert caught.value.detail.startswith(f"policy file {path} is not valid TOML: ")
    assert "line 3" in caught.value.detail


def test_a_file_with_problems_lists_them(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    text = resources.files("tidings.privacy").joinpath("presets", "baseline.toml").read_text()
    path.write_text(text.replace('period = "7y"', 'period = "7q"'))
    with pytest.raises(PolicyError) as caught:
        load_file(path)
    assert caught.value.detail.startswith(f"policy file {path} has 1 problem:\n  - ")
    assert [p.where for p in caught.value.problems] == ["rule 'account_data', period"]


def test_the_config_file_and_the_environment_choose_the_policy(tmp_path: Path) -> None:
    env = {"TIDINGS_DATA_DIR": str(tmp_path)}
    assert load_settings(None, env=env).policy == DEFAULT_PRESET
    config = tmp_path / "tidings.toml"
    config.write_text('[privacy]\npolicy = "icetrak"\n')
    settings = load_settings(config, env=env)
    assert settings.policy == "icetrak"
    assert configured_source(settings, env={}) == "icetrak"
    assert load_configured_policy(settings, env={}).name == "icetrak"
    assert load_configured_policy(settings, env={"TIDINGS_POLICY": "bg"}).name == "bg"
    assert configured_source(None, env={}) == DEFAULT_PRESET


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('privacy = "icetrak"\n', "[privacy] must be a table"),
        ('[privacy]\npolicy = "bg"\nretention = 1\n', "[privacy]: unknown key(s) retention"),
        ("[privacy]\npolicy = 7\n", "[privacy]: 'policy' must be a string"),
        ('[privacy]\npolicy = " "\n', "[privacy]: 'policy' must be a preset name"),
    ],
)
def test_a_bad_privacy_section_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "tidings.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert caught.value.detail.startswith(message)
