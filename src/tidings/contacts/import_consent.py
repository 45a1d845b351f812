"""Consent columns of an import: `column=consent:CHANNEL[:PURPOSE]` records each row's
answer in the consent ledger, in the batch's transaction.

A cell of yes/true/1/granted records `granted` (basis consent), no/false/0/withdrawn
records `withdrawn`, objected records `objected`; an empty cell records nothing. An
event is recorded only when it changes the number's current state for that channel and
purpose, so importing the same file again adds no event. A withdrawal or objection
cancels the waiting messages of that purpose, as the consent API does.

A cell of stop/opted_out/unsubscribed is an opt-out, as a STOP keyword records one (say, a
suppression list carried over from another platform): the `withdrawn` event and the
number on the suppression list for the channel, so every message of any purpose but
transactional (and those too under the account's `refuse` policy) is refused
`opted_out` until the person opts in again; its waiting messages are canceled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tidings.contacts.consent_cells import OPTED_OUT
from tidings.core.clock import iso
from tidings.domain.consent import is_suppressed, state_of
from tidings.pipeline.opt_out import OptOuts, Withdrawal, ledger_row
from tidings.store import consent as consent_store


@dataclass(frozen=True, slots=True)
class Answer:
    """One row's consent cell, for a contact that the batch wrote."""

    number_index: bytes
    contact_id: str
    line: int
    column: str
    target: str  # consent:CHANNEL:PURPOSE
    action: str


class ConsentRecorder:
    """Writes the ledger events of one import batch, set-based."""

    def __init__(self, opt_outs: OptOuts, import_id: str, filename: str | None) -> None:
        self._opt_outs = opt_outs
        self._import = import_id
        self._filename = filename

    def record(
        self, conn: Connection, account_id: str, answers: Sequence[Answer], now: datetime
    ) -> None:
        """Append the events that change a state."""
        if not answers:
            return
        purposes = sorted({a.target.split(":")[2] for a in answers})
        events, suppressed = consent_store.consent_facts(
            conn, account_id, [a.number_index for a in answers], purposes, with_ledger=True
        )
        rows: list[dict[str, Any]] = []
        withdrawals: list[Withdrawal] = []
        opt_outs: list[tuple[bytes, str, str]] = []  # number index, channel, event id
        for answer in answers:
            _, channel, purpose = answer.target.split(":")
            current = state_of(events.get(answer.number_index, ()), channel, purpose)
            action = answer.action
            if action == OPTED_OUT:
                if current.status == "withdrawn" and _covers(
                    suppressed.get(answer.number_index, set()), channel
                ):
                    continue  # opted out already
                action = "withdrawn"
            elif current.status == action:
                continue  # already so: a re-import adds nothing
            evidence = {
                "import_id": self._import,
                "file": self._filename,
                "line": answer.line,
                "column": answer.column,
                "at": iso(now),
            }
            row = ledger_row(
                self._opt_outs.crypto,
                account_id=account_id,
                number_index=answer.number_index,
                contact_id=answer.contact_id,
                channel=channel,
                purpose=purpose,
                action=action,
                basis="consent",
                source="import",
                evidence={k: v for k, v in evidence.items() if v is not None},
                policy_version=self._opt_outs.policy_version,
                occurred_at=now,
                now=now,
            )
            rows.append(row)
            if answer.action == OPTED_OUT:
                opt_outs.append((answer.number_index, channel, row["id"]))
            elif action != "granted":
                withdrawals.append(Withdrawal(answer.number_index, channel, purpose, action))
        if withdrawals or opt_outs:  # nothing waiting for this purpose may go out after it
            consent_store.lock_account(conn, account_id, exclusive=True)
        consent_store.insert_events(conn, rows)
        self._opt_outs.cancel_withdrawn(conn, account_id, withdrawals, now)
        for number_index, channel, event_id in opt_outs:
            self._opt_outs.suppress(
                conn, account_id, number_index, channel, "import", event_id, now
            )


def _covers(suppressed: set[str], channel: str) -> bool:
    """The number is suppressed on `channel` (on every channel when it is `all`)."""
    return "all" in suppressed if channel == "all" else is_suppressed(suppressed, channel)
