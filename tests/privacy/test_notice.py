"""The privacy notice rendered from a policy and the data map."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tidings.domain.policy import Period, Rule
from tidings.privacy.notice import render_notice, rule_words
from tidings.privacy.policy import load_preset, preset_names
from tidings.store.tables import metadata


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_renders_every_section(name: str) -> None:
    policy = load_preset(name)
    notice = render_notice(policy, metadata)
    assert notice.startswith(f"# {policy.title}\n")
    for heading in (
        "## Who is responsible",
        "## What data we process",
        "## Why, and on what legal basis",
        "## How long we keep it",
        "## Who receives it",
        "## Your rights",
        "## Contact and complaints",
    ):
        assert f"\n{heading}\n" in notice
    assert policy.controller.name in notice
    assert policy.controller.contact in notice
    for basis in policy.bases:
        assert f"**{basis.label}**" in notice
        assert basis.article in notice


@pytest.mark.promise("BSMS-18")
def test_the_notice_shows_the_policy_version_and_when_it_took_effect() -> None:
    policy = load_preset("bulksms")
    notice = render_notice(policy, metadata)
    assert (
        f"*Version {policy.version}, published {policy.published.isoformat()}. This version "
        "takes effect when it is published and replaces every earlier version.*"
    ) in notice
    revised = replace(policy, version="2", published=policy.published.replace(year=2030))
    assert "*Version 2, published 2030-" in render_notice(revised, metadata)


def test_icetrak_notice_states_its_periods_in_words() -> None:
    notice = render_notice(load_preset("icetrak"), metadata)
    assert "- **Account data**: 7 years after the account is closed, then deleted." in notice
    assert "90 days after it is collected, then the message content is erased" in notice
    assert "12 months after it is collected, then pseudonymised" in notice
    assert "we will delete the records in question" in notice  # its retention notes
    assert "KashFlow" in notice
    assert "free of charge" in notice and "within one month" in notice
    # It names no supervisory authority, so the notice points to the right to complain.
    assert "You may complain to a data protection supervisory authority" in notice


def test_ics_notice_names_periods_bases_processors_and_the_authority() -> None:
    notice = render_notice(load_preset("ics"), metadata)
    assert "10 years after the contractual relationship ends, then deleted" in notice
    assert "- **Pre-contractual data**: 30 days after it is collected, then deleted." in notice
    assert "12 months after it is collected, then deleted" in notice
    assert "(Art. 6(1)(b) GDPR)" in notice and "(Art. 6(1)(f) GDPR)" in notice
    assert "Amazon Web Services (AWS)" in notice and "Frankfurt" in notice
    assert "Standard Data Protection Clauses" in notice
    assert "**Commission for Personal Data Protection** (Bulgaria)" in notice
    assert "Marin Georgiev" in notice


def test_bg_notice_states_consent_ends_at_withdrawal() -> None:
    notice = render_notice(load_preset("bg"), metadata)
    assert (
        "- **Data processed on consent**: 12 months after it is collected, or until consent is "
        "withdrawn if that comes first, then deleted."
    ) in notice
    assert "11 years after it is collected" in notice
    assert "5 years after it is collected" in notice


@pytest.mark.promise("BG-08")
def test_bg_notice_lists_the_statutory_records() -> None:
    notice = render_notice(load_preset("bg"), metadata)
    what = notice.split("## What data we process")[1].split("\n## ")[0]
    assert (
        "| Invoices and billing records | customers (account holders) | Lawful accounting |" in what
    )
    assert "| Requests of courts and state authorities and what was disclosed to them |" in what
    assert "- **Accounting data**: 11 years after it is collected, then deleted." in notice
    assert "- **Information for courts and authorities**: 5 years after it is collected" in notice


def test_what_data_lists_the_categories_of_the_classified_columns() -> None:
    notice = render_notice(load_preset("baseline"), metadata)
    what = notice.split("## What data we process")[1].split("\n## ")[0]
    for category in ("Names", "Email addresses", "Phone numbers", "Message content"):
        assert f"| {category} |" in what
    assert "| controller |" in what and "| processor |" in what
    assert "that customer is the controller" in what
    # Columns that hold no personal data stay out of the notice.
    assert "system.operations" not in notice and "With parent" not in notice


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            Rule("a", Period(7, "y"), "account_closed", purpose="p"),
            "7 years after the account is closed, then deleted",
        ),
        (
            Rule("a", Period(1, "m"), "collected", purpose="p"),
            "1 month after it is collected, then deleted",
        ),
        (
            Rule("a", until=("withdrawn",), action="anonymise", purpose="p"),
            "until consent is withdrawn, then anonymised, so that no one can be identified from it",
        ),
        (
            Rule("a", Period(0, "d"), "relationship_end", purpose="p"),
            "until the contractual relationship ends, then deleted",
        ),
        (
            Rule("a", Period(2, "w"), "last_activity", ("withdrawn",), purpose="p"),
            "2 weeks after the last activity, or until consent is withdrawn if that comes first, "
            "then deleted",
        ),
        (Rule("a", follows_record=True), "as long as the record it belongs to"),
    ],
)
def test_rules_in_words(rule: Rule, words: str) -> None:
    assert rule_words(rule) == words
