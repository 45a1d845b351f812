"""The one interface every channel connector implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Outcome = Literal["accepted", "temporary", "permanent"]
ReceiptStatus = Literal["delivered", "undelivered", "failed", "expired"]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    id: str
    channel: str
    sender: str
    to: str
    body: str
    encoding: str
    segments: int
    # The end of the validity period, for peers that take one (SMPP validity_period).
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PartResult:
    """One submitted part of a message that the peer carries as several (SMPP concatenation)."""

    number: int
    connector_message_id: str | None
    status: Literal["sent", "failed"]
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    connector_message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    # Set when the message went out as several submits, each with its own receipt.
    parts: tuple[PartResult, ...] = ()

    def submitted(self) -> tuple[PartResult, ...]:
        """The submits the peer answered, as stored: `parts`, or the whole message as its
        one part when the peer took it in one (receipts find their message by a part)."""
        if self.parts or self.outcome != "accepted" or self.connector_message_id is None:
            return self.parts
        return (PartResult(1, self.connector_message_id, "sent"),)


@dataclass(frozen=True, slots=True)
class Receipt:
    connector: str
    connector_message_id: str
    status: ReceiptStatus
    at: datetime
    error_code: str | None = None
    # Called by the pipeline once the receipt is durably recorded (or given up on as matching
    # no message): the moment a connector may acknowledge it to its peer, which otherwise
    # owes it again, like deliver_sm_resp in SMPP.
    recorded: Callable[[], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Inbound:
    connector: str
    channel: str
    sender: str
    to: str
    body: str
    at: datetime


class ConnectorEvents(Protocol):
    """What a connector reports back to the pipeline. Both calls are cheap and never block."""

    def receipt(self, receipt: Receipt) -> None: ...

    def inbound(self, message: Inbound) -> None: ...


class Connector(ABC):
    name: str
    channel: str

    @abstractmethod
    async def start(self, events: ConnectorEvents) -> None:
        """Connect (bind) and begin reporting receipts and inbound messages."""

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Hand one message to the peer; return once the peer has answered."""

    @abstractmethod
    async def stop(self) -> None:
        """Disconnect cleanly."""

    def status(self) -> dict[str, object]:
        return {"name": self.name, "channel": self.channel}
