"""Request bodies of the HTTP API (unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

_CONTROL = frozenset(chr(c) for c in (*range(0x20), 0x7F))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object, info: ValidationInfo) -> object:
        """Names, URLs, references and addresses never hold control characters (PostgreSQL
        cannot even store NUL); a message body may. No text holds a lone surrogate (JSON can
        escape one, but it is not Unicode and can be neither stored nor echoed)."""
        texts = [t for t in (value if isinstance(value, list) else [value]) if isinstance(t, str)]
        if not all(_is_unicode(t) for t in texts):
            raise ValueError("must be valid Unicode text (a lone surrogate is not)")
        if info.field_name != "body" and any(not _CONTROL.isdisjoint(t) for t in texts):
            raise ValueError("must not contain control characters")
        return value


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SendMessage(Strict):
    to: str = Field(min_length=1, max_length=64, examples=["+31612345678"])
    from_: str = Field(alias="from", min_length=1, max_length=64, examples=["Tidings"])
    body: str = Field(max_length=20_000, examples=["Your code is 123456"])
    channel: str = Field(default="sms", max_length=16)
    send_at: datetime | None = None
    validity_seconds: int | None = None
    status_callback: str | None = Field(default=None, max_length=2000)
    reference: str | None = Field(default=None, max_length=128)
    purpose: str = Field(
        default="transactional",
        max_length=64,
        description="transactional (default), marketing, or a purpose of the account's own; "
        "anything but transactional needs a valid basis for the recipient",
    )


class BatchShared(Strict):
    """One body to many recipients."""

    to: list[str] = Field(min_length=1)
    from_: str = Field(alias="from", min_length=1, max_length=64)
    body: str = Field(max_length=20_000)
    channel: str = Field(default="sms", max_length=16)
    send_at: datetime | None = None
    validity_seconds: int | None = None
    status_callback: str | None = Field(default=None, max_length=2000)
    reference: str | None = Field(default=None, max_length=128)
    purpose: str = Field(
        default="transactional",
        max_length=64,
        description="transactional (default), marketing, or a purpose of the account's own; "
        "anything but transactional needs a valid basis for the recipient",
    )


class NewNumber(Strict):
    number: str = Field(min_length=1, max_length=64)
    channel: str = Field(default="sms", max_length=16)


class WebhookSettings(Strict):
    url: str | None = Field(max_length=2000)


class NewApiKey(Strict):
    name: str = Field(default="default", min_length=1, max_length=100)
    scopes: list[str] | None = None


class SimulatedInbound(Strict):
    from_: str = Field(alias="from", min_length=1, max_length=64)
    to: str = Field(min_length=1, max_length=64)
    body: str = Field(min_length=1, max_length=20_000)


CustomValue = str | int | float | bool | None


class NewContact(Strict):
    number: str = Field(min_length=1, max_length=64, examples=["+31612345678"])
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    language: str | None = Field(default=None, max_length=35, examples=["nl"])
    fields: dict[str, CustomValue] | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=50)


class ContactChanges(Strict):
    """Only the attributes sent change; null clears one."""

    number: str | None = Field(default=None, min_length=1, max_length=64)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    language: str | None = Field(default=None, max_length=35)
    fields: dict[str, CustomValue] | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=50)


class NewList(Strict):
    name: str = Field(min_length=1, max_length=100, examples=["Customers"])


class ListChanges(Strict):
    name: str = Field(min_length=1, max_length=100)


class Members(Strict):
    contact_ids: list[str] = Field(min_length=1, max_length=10_000)


class NewContactField(Strict):
    key: str = Field(min_length=1, max_length=64, examples=["loyalty_tier"])
    type: str = Field(max_length=16, examples=["enum"])
    label: str | None = Field(default=None, max_length=100)
    options: list[str] | None = Field(default=None, max_length=200)


# --- consent ------------------------------------------------------------------------------


class LanguageKeywords(Strict):
    """Keywords of one language (each one word) and the replies in that language."""

    opt_out: list[str] = Field(default_factory=list, max_length=20)
    opt_out_all: list[str] = Field(default_factory=list, max_length=20)
    opt_in: list[str] = Field(default_factory=list, max_length=20)
    help: list[str] = Field(default_factory=list, max_length=20)
    help_reply: str | None = Field(default=None, min_length=1, max_length=640)
    opt_out_reply: str | None = Field(default=None, min_length=1, max_length=640)
    opt_in_reply: str | None = Field(default=None, min_length=1, max_length=640)


class KeywordSettings(Strict):
    languages: dict[str, LanguageKeywords] | None = Field(
        description="keywords by language code; null restores the defaults"
    )


class OptOutPolicy(Strict):
    transactional: str | None = Field(
        default=None,
        max_length=8,
        description="allow (default) or refuse transactional messages to opted-out numbers",
    )
    confirm_by_reply: bool | None = Field(
        default=None, description="answer STOP and START keywords with a confirmation message"
    )


class NewOptOutLink(Strict):
    to: str = Field(min_length=1, max_length=64, examples=["+31612345678"])
    channel: str = Field(default="sms", max_length=16)


class ConsentEvidence(Strict):
    """What the person saw and did: the notice (text or version), where and when."""

    notice: str | None = Field(default=None, max_length=2000, examples=["signup form v3"])
    ip: str | None = Field(default=None, max_length=64, examples=["203.0.113.7"])
    user_agent: str | None = Field(default=None, max_length=500)
    at: datetime | None = Field(default=None, description="when it happened (default: now)")


class NewConsent(Strict):
    channel: str = Field(max_length=16, examples=["sms"], description="a channel, or all")
    purpose: str = Field(max_length=64, examples=["marketing"])
    action: str = Field(max_length=16, examples=["granted"])
    basis: str = Field(max_length=32, examples=["consent"])
    source: str = Field(default="api", max_length=16)
    evidence: ConsentEvidence | None = None


class MarketingChoice(Strict):
    """The user's own choice about the operator's marketing; the box starts unticked."""

    opt_in: bool
    notice: str | None = Field(
        default=None, max_length=2000, description="the text of the checkbox the user saw"
    )
