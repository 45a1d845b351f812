"""Inbound keywords end to end through the simulator: opt-out, opt-in, help, replies, webhooks."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_problem, message, message_ids, wait_for_status
from tests.api.receiver import Receiver
from tests.consent.helpers import (
    HANDSET,
    MARKETING,
    OTHER_HANDSET,
    OWNED,
    consents,
    grant,
    own_number,
    text_in,
)
from tests.support import Tenant, wait_until
from tidings.runtime import Runtime


def _outbound(tenant: Tenant) -> list[dict[str, Any]]:
    ids = message_ids(tenant)
    found = [message(tenant, i) for i in ids]
    return [m for m in found if m["direction"] == "outbound"]


def test_stop_in_any_case_spacing_or_accent_opts_out_and_start_opts_back_in(
    tenant: Tenant, runtime: Runtime
) -> None:
    own_number(tenant)
    grant(runtime, tenant)
    text_in(tenant, "  Stöp \n")
    state = consents(runtime, tenant)
    assert state["opted_out"] == ["sms"]
    last = state["history"][-1]
    assert (last["action"], last["source"], last["purpose"], last["channel"]) == (
        "withdrawn",
        "keyword",
        "marketing",
        "sms",
    )
    assert last["evidence"]["keyword"] == "Stöp"
    assert last["policy_version"] == "baseline@1"
    assert_problem(tenant.post("/v1/messages", MARKETING), 422, "opted_out", "to")
    text_in(tenant, "unstop")
    assert consents(runtime, tenant)["opted_out"] == []
    assert tenant.post("/v1/messages", MARKETING).status_code == 202


def test_a_sentence_is_not_a_keyword(tenant: Tenant, runtime: Runtime) -> None:
    own_number(tenant)
    grant(runtime, tenant)
    text_in(tenant, "please stop calling me later")
    assert consents(runtime, tenant)["opted_out"] == []
    assert tenant.post("/v1/messages", MARKETING).status_code == 202


def test_stopall_covers_every_channel(tenant: Tenant, runtime: Runtime) -> None:
    own_number(tenant)
    text_in(tenant, "STOPALL")
    state = consents(runtime, tenant)
    assert state["opted_out"] == ["sms", "whatsapp", "viber", "messenger", "fax"]
    assert consents(runtime, tenant, OTHER_HANDSET)["opted_out"] == []


def test_help_is_answered_through_the_pipeline_from_the_number_texted(
    tenant: Tenant, runtime: Runtime
) -> None:
    own_number(tenant)
    text_in(tenant, "help")
    (reply,) = wait_until(lambda: _outbound(tenant), message="the help reply")
    assert (reply["from"], reply["to"]) == (OWNED, HANDSET)
    assert reply["body"] == "Reply STOP to opt out, START to opt back in."
    assert reply["purpose"] == "transactional"
    wait_for_status(tenant, reply["id"], "delivered")


def test_account_keywords_and_replies_in_another_language(tenant: Tenant, runtime: Runtime) -> None:
    own_number(tenant)
    languages = {
        "bg": {
            "opt_out": ["СТОП", "Отказ"],
            "opt_in": ["Начало"],
            "help": ["Помощ"],
            "opt_out_reply": "Отписахте се.",  # noqa: RUF001
            "help_reply": "Изпратете СТОП за отказ.",
        }
    }
    saved = tenant.put("/v1/account/keywords", {"languages": languages})
    assert saved.status_code == 200, saved.text
    assert saved.json()["languages"]["bg"]["opt_out"] == ["СТОП", "Отказ"]
    assert tenant.put("/v1/account/opt-out", {"confirm_by_reply": True}).status_code == 200
    text_in(tenant, "STOP")  # no longer a keyword of this account
    assert consents(runtime, tenant)["opted_out"] == []
    text_in(tenant, "отказ")
    assert consents(runtime, tenant)["opted_out"] == ["sms"]
    (reply,) = wait_until(lambda: _outbound(tenant), message="the confirmation")
    assert reply["body"] == "Отписахте се."  # noqa: RUF001
    back = tenant.put("/v1/account/keywords", {"languages": None})
    assert back.json()["custom"] is False
    assert "STOP" in back.json()["languages"]["en"]["opt_out"]


def test_opt_out_and_opt_in_notify_the_account_by_webhook(
    tenant: Tenant, runtime: Runtime, receiver: Receiver
) -> None:
    own_number(tenant)
    assert tenant.put("/v1/account/webhook", {"url": receiver.url}).status_code == 200
    text_in(tenant, "STOP")
    text_in(tenant, "START")

    def consent_events() -> list[dict[str, Any]]:
        return [r.payload for r in receiver.requests if r.payload["event"].startswith("consent.")]

    events = wait_until(lambda: len(consent_events()) == 2 and consent_events())
    assert sorted((e["event"], e["number"], e["channel"], e["source"]) for e in events) == [
        ("consent.opt_in", HANDSET, "sms", "keyword"),
        ("consent.opt_out", HANDSET, "sms", "keyword"),
    ]


def test_bad_keyword_settings_are_refused_naming_the_field(tenant: Tenant) -> None:
    cases = [
        ({"languages": {"en": {"opt_out": ["stop now"]}}}, 400, "languages.en.opt_out"),
        (
            {"languages": {"en": {"opt_out": ["STOP"], "opt_in": ["stop"]}}},
            400,
            "languages.en.opt_in",
        ),
        ({"languages": {}}, 400, "languages"),
        ({"languages": {"e n": {"opt_out": ["STOP"]}}}, 400, "languages.e n"),
    ]
    for body, status, field in cases:
        code = "invalid_keywords" if status == 400 else "validation_error"
        assert_problem(tenant.put("/v1/account/keywords", body), status, code, field)
    assert_problem(
        tenant.put("/v1/account/keywords", {"languages": {"en": {"stop": ["x"]}}}),
        422,
        "validation_error",
    )
