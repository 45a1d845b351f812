"""Request bodies of the HTTP API (unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SendMessage(Strict):
    to: str = Field(min_length=1, max_length=64, examples=["+31612345678"])
    from_: str = Field(alias="from", min_length=1, max_length=64, examples=["Tidings"])
    body: str = Field(max_length=20_000, examples=["Your code is 123456"])
    channel: str = Field(default="sms", max_length=16)
    send_at: datetime | None = None
    validity_seconds: int | None = None
    status_callback: str | None = Field(default=None, max_length=2000)
    reference: str | None = Field(default=None, max_length=128)


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
