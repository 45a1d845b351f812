"""A built-in operator: accepts, delivers or fails messages by rules, and injects inbound ones.

Every acknowledged submit and every receipt it sends is appended to a journal file
before it is reported, so that a crash test can count dispatches across a restart
and, like a real SMSC that keeps receipts for an absent client, receipts owed for
acknowledged messages are sent again after a restart.

Journal lines: `S <ref> <message id>` when a submit is acknowledged, `R <ref> <status>`
when its receipt is emitted, `A <ref>` when the pipeline has recorded that receipt
(`Receipt.recorded`). A receipt is owed until its `A` line: one emitted but lost with a
crashed process before it was committed is emitted again at the next start.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tidings.channels.base import (
    Connector,
    ConnectorEvents,
    Inbound,
    OutboundMessage,
    Receipt,
    ReceiptStatus,
    SendResult,
)


class SimulatorConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SimulatorRules:
    latency_ms: float = 20.0
    submit_latency_ms: float = 0.0
    delivery_ratio: float = 1.0
    failure_ratio: float = 0.0
    temporary_failure_ratio: float = 0.0
    always_fail: frozenset[str] = frozenset()
    seed: str = "tidings"

    @classmethod
    def from_options(cls, name: str, options: dict[str, Any]) -> SimulatorRules:
        known = {
            "latency_ms",
            "submit_latency_ms",
            "delivery_ratio",
            "failure_ratio",
            "temporary_failure_ratio",
            "always_fail",
            "seed",
            "journal",
        }
        unknown = set(options) - known
        if unknown:
            raise SimulatorConfigError(
                f"connector {name!r}: unknown simulator key(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for key in ("latency_ms", "submit_latency_ms"):
            if key in options:
                value = options[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise SimulatorConfigError(f"connector {name!r}: '{key}' must be a number >= 0")
                values[key] = float(value)
        for key in ("delivery_ratio", "failure_ratio", "temporary_failure_ratio"):
            if key in options:
                value = options[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not 0 <= value <= 1
                ):
                    raise SimulatorConfigError(
                        f"connector {name!r}: '{key}' must be a number from 0 to 1"
                    )
                values[key] = float(value)
        if "always_fail" in options:
            numbers = options["always_fail"]
            if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
                raise SimulatorConfigError(
                    f"connector {name!r}: 'always_fail' must be a list of E.164 numbers"
                )
            values["always_fail"] = frozenset(numbers)
        if "seed" in options:
            values["seed"] = str(options["seed"])
        return cls(**values)

    def draw(self, message_id: str, purpose: str) -> float:
        """A deterministic number in [0, 1) for a message, so outcomes replay identically."""
        digest = hashlib.blake2b(
            f"{self.seed}|{purpose}|{message_id}".encode(), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") / 2**64


class SimulatorConnector(Connector):
    channel = "sms"

    def __init__(
        self, name: str, rules: SimulatorRules, journal: Path | None, now: Callable[[], datetime]
    ) -> None:
        self.name = name
        self.rules = rules
        self._journal_path = journal
        self._journal_fd: int | None = None
        self._now = now
        self._events: ConnectorEvents | None = None
        self._counter = itertools.count(1)
        self._run = hashlib.blake2b(os.urandom(8), digest_size=4).hexdigest()
        self._pending: set[asyncio.TimerHandle] = set()
        self.submitted = 0
        self.receipts_sent = 0

    @property
    def started(self) -> bool:
        return self._events is not None

    async def start(self, events: ConnectorEvents) -> None:
        self._events = events
        if self._journal_path is None:
            return
        self._journal_path.parent.mkdir(parents=True, exist_ok=True)
        owed = self._receipts_owed(self._journal_path)
        self._journal_fd = os.open(
            self._journal_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        for message_id, reference in owed.items():
            self._schedule_receipt(message_id, reference)

    @staticmethod
    def _receipts_owed(path: Path) -> dict[str, str]:
        owed: dict[str, str] = {}
        if not path.exists():
            return owed
        with path.open() as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 3 and parts[0] == "S":
                    owed[parts[1]] = parts[2]
                elif len(parts) == 2 and parts[0] == "A":
                    owed.pop(parts[1], None)
        return {message_id: ref for ref, message_id in owed.items()}

    def _journal(self, line: str) -> None:
        if self._journal_fd is not None:
            os.write(self._journal_fd, line.encode())

    async def send(self, message: OutboundMessage) -> SendResult:
        rules = self.rules
        if rules.submit_latency_ms:
            await asyncio.sleep(rules.submit_latency_ms / 1000)
        if message.to in rules.always_fail:
            return SendResult(
                "permanent",
                error_code="sim_rejected",
                error_message="the simulator rejects this number (always_fail)",
            )
        if rules.failure_ratio and rules.draw(message.id, "fail") < rules.failure_ratio:
            return SendResult(
                "permanent",
                error_code="sim_rejected",
                error_message="rejected by the simulator (failure_ratio)",
            )
        if (
            rules.temporary_failure_ratio
            and rules.draw(f"{message.id}|{next(self._counter)}", "temp")
            < rules.temporary_failure_ratio
        ):
            return SendResult(
                "temporary",
                error_code="sim_throttled",
                error_message="temporary failure from the simulator",
            )
        reference = f"sim-{self._run}-{next(self._counter)}"
        self._journal(f"S {reference} {message.id}\n")
        self.submitted += 1
        self._schedule_receipt(message.id, reference)
        return SendResult("accepted", connector_message_id=reference)

    def _schedule_receipt(self, message_id: str, reference: str) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._pending.discard(handle)
            self._emit_receipt(message_id, reference)

        handle = loop.call_later(self.rules.latency_ms / 1000, fire)
        self._pending.add(handle)

    def _emit_receipt(self, message_id: str, reference: str) -> None:
        delivered = (
            self.rules.delivery_ratio >= 1.0
            or self.rules.draw(message_id, "deliver") < self.rules.delivery_ratio
        )
        status: ReceiptStatus = "delivered" if delivered else "undelivered"
        self._journal(f"R {reference} {status}\n")
        self.receipts_sent += 1
        if self._events is not None:
            self._events.receipt(
                Receipt(
                    connector=self.name,
                    connector_message_id=reference,
                    status=status,
                    at=self._now(),
                    error_code=None if delivered else "sim_undelivered",
                    recorded=functools.partial(self._journal, f"A {reference}\n"),
                )
            )

    def inject_inbound(self, sender: str, to: str, body: str) -> None:
        if self._events is None:
            raise RuntimeError("the simulator is not started")
        self._events.inbound(
            Inbound(
                connector=self.name,
                channel=self.channel,
                sender=sender,
                to=to,
                body=body,
                at=self._now(),
            )
        )

    async def stop(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None

    def status(self) -> dict[str, object]:
        return {
            "name": self.name,
            "channel": self.channel,
            "type": "simulator",
            "submitted": self.submitted,
            "receipts_sent": self.receipts_sent,
            "receipts_pending": len(self._pending),
        }
