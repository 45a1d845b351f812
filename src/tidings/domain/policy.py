"""The privacy policy as data: retention rules, legal bases, recipients, rights.

Pure: frozen dataclasses for a parsed policy, `validate` (do its parts agree with each
other), and the calendar arithmetic of retention (`add_period`, `expires_at`). Reading a
policy document lives in `tidings.privacy.document`, loading files and presets and
comparing a policy with the data map in `tidings.privacy.policy`.

Periods are a whole number and a unit: `d` days, `w` weeks, `m` calendar months,
`y` calendar years (`"7y"`, `"30d"`, `"12m"`). Months and years move the calendar date
and keep the time of day; when the target month has no such day (31 January + 1 month,
29 February + 1 year) the period ends on that month's last day, as Regulation (EEC,
Euratom) No 1182/71 Art. 3(2)(c) counts periods. So 2024-02-29 + 1y = 2025-02-28 and
2024-02-29 + 4y = 2028-02-29.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, cast, get_args

Unit = Literal["d", "w", "m", "y"]
Anchor = Literal["collected", "last_activity", "relationship_end", "account_closed", "withdrawn"]
Action = Literal["delete", "redact", "pseudonymise", "anonymise"]
PolicyBasis = Literal[
    "contract", "legitimate_interest", "consent", "legal_obligation", "processor_instruction"
]
Right = Literal[
    "information",
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "withdraw_consent",
    "automated_decisions",
    "sender_identity",
]

UNITS: tuple[str, ...] = get_args(Unit)
ANCHORS: tuple[str, ...] = get_args(Anchor)
ACTIONS: tuple[str, ...] = get_args(Action)
BASES: tuple[str, ...] = get_args(PolicyBasis)
RIGHTS: tuple[str, ...] = get_args(Right)

ARTICLES: dict[str, str] = {
    "contract": "Art. 6(1)(b) GDPR",
    "legitimate_interest": "Art. 6(1)(f) GDPR",
    "consent": "Art. 6(1)(a) GDPR",
    "legal_obligation": "Art. 6(1)(c) GDPR",
    "processor_instruction": "Art. 28 GDPR",
}
"""The GDPR provision each basis stands on, shown when a policy names no article."""

MAX_DAYS = 36_600
"""The longest period accepted: about 100 years."""
_UPPER_DAYS = {"d": 1, "w": 7, "m": 31, "y": 366}
_PERIOD = re.compile(r"^(\d{1,6})([a-zA-Z]*)$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""Rule and purpose names: lowercase letters, digits and _, starting with a letter."""
PERIOD_HELP = (
    'Write a whole number and a unit: d (days), w (weeks), m (months), y (years), like "7y".'
)


# --- periods -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    amount: int
    unit: Unit

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


class PeriodError(ValueError):
    """A period that cannot be read: `message` says what is wrong, `fix` how to write it."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}. {fix}")
        self.message = message
        self.fix = fix


def parse_period(text: str) -> Period:
    """`"7y"` -> Period(7, "y"). Raises PeriodError saying what is wrong and how to write it."""
    match = _PERIOD.match(text.strip()) if isinstance(text, str) else None
    if match is None or match.group(2) not in UNITS:
        raise PeriodError(f"{text!r} is not a period", PERIOD_HELP)
    amount = int(match.group(1))
    unit = cast(Unit, match.group(2))
    if amount * _UPPER_DAYS[unit] > MAX_DAYS:
        raise PeriodError(f"{text!r} is longer than 100 years", "Give a shorter period.")
    return Period(amount, unit)


def add_period(start: datetime, period: Period | str) -> datetime:
    """`start` moved on by `period`, calendar-correct (see the module docstring)."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("retention arithmetic needs a timezone-aware datetime (use UTC)")
    step = parse_period(period) if isinstance(period, str) else period
    if step.unit == "d":
        return start + timedelta(days=step.amount)
    if step.unit == "w":
        return start + timedelta(weeks=step.amount)
    months = step.amount * (12 if step.unit == "y" else 1)
    year, month0 = divmod(start.year * 12 + start.month - 1 + months, 12)
    day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
    return start.replace(year=year, month=month0 + 1, day=day)


# --- the model ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """How long one data set is kept, from which event, and what happens then.

    A timed rule has a `period` counted from its `anchor`, and/or `until` events that end
    it earlier (the earlier wins). `same_as` copies another rule's timing (resolved when
    parsed). A `follows_record` rule has no timing of its own: the value goes with the
    record it belongs to.
    """

    name: str
    period: Period | None = None
    anchor: Anchor | None = None
    until: tuple[Anchor, ...] = ()
    action: Action = "delete"
    fields: tuple[str, ...] = ()
    purpose: str | None = None
    follows_record: bool = False
    same_as: str | None = None
    label: str = ""
    description: str = ""
    source: str = ""

    @property
    def title(self) -> str:
        """The label, or the name in words (`account_data` -> `Account data`)."""
        return self.label or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Basis:
    """The legal basis of one purpose."""

    purpose: str
    basis: PolicyBasis
    article: str
    label: str
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class Controller:
    name: str
    contact: str
    address: str = ""
    registration: str = ""
    phone: str = ""
    dpo: str = ""
    jurisdiction: str = ""
    storage: str = ""


@dataclass(frozen=True)
class Authority:
    """The supervisory authority a complaint goes to."""

    name: str
    country: str = ""
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Recipient:
    name: str
    purpose: str = ""
    location: str = ""
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class Transfer:
    destination: str
    safeguards: tuple[str, ...]
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class SubProcessor:
    """A processor the operator engages, as the notice names it (seeds the register)."""

    name: str
    service: str
    region: str
    safeguard: str = ""
    applies_to: str = "all"
    source: str = ""


@dataclass(frozen=True)
class Rights:
    granted: tuple[Right, ...] = ()
    response_time: str = ""
    free_of_charge: bool = False
    how: str = ""
    source: str = ""


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    version: str
    published: date
    controller: Controller
    rules: tuple[Rule, ...]
    bases: tuple[Basis, ...]
    recipients: tuple[Recipient, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    subprocessors: tuple[SubProcessor, ...] = ()
    rights: Rights = field(default_factory=Rights)
    authority: Authority | None = None
    summary: str = ""
    based_on: str = ""
    retention_notes: tuple[str, ...] = ()

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def basis_for(self, purpose: str) -> Basis | None:
        return next((b for b in self.bases if b.purpose == purpose), None)

    @property
    def rule_names(self) -> frozenset[str]:
        return frozenset(r.name for r in self.rules)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy: where, what, and how to fix it."""

    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}." + (f" {self.fix}" if self.fix else "")


class PolicyInvalid(ValueError):
    """A policy document that cannot be read; `problems` lists every reason."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --- expiry ------------------------------------------------------------------------


def expires_at(rule: Rule, anchors: Mapping[str, datetime | None]) -> datetime | None:
    """When data under `rule` expires, given the moments its events happened.

    `anchors` maps an anchor name to when it happened (None or absent: not yet). The
    result is the earliest of `anchor + period` and every `until` event that happened;
    None when none of them has happened yet (the data is kept for now) and for rules that
    follow their record.
    """
    candidates: list[datetime] = []
    if rule.period is not None and rule.anchor is not None:
        start = anchors.get(rule.anchor)
        if start is not None:
            candidates.append(add_period(start, rule.period))
    for event in rule.until:
        moment = anchors.get(event)
        if moment is not None:
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError("retention arithmetic needs a timezone-aware datetime (use UTC)")
            candidates.append(moment)
    return min(candidates) if candidates else None


def is_expired(rule: Rule, anchors: Mapping[str, datetime | None], now: datetime) -> bool:
    """True from the moment of expiry on."""
    moment = expires_at(rule, anchors)
    return moment is not None and now >= moment


# --- validation --------------------------------------------------------------------


def validate(policy: Policy) -> list[Problem]:
    """Do the parts of a parsed policy agree? Every rule's purpose has a legal basis, and
    data kept on consent ends when consent is withdrawn."""
    problems: list[Problem] = []
    for rule in policy.rules:
        if rule.purpose is None:
            continue
        basis = policy.basis_for(rule.purpose)
        if basis is None:
            problems.append(
                Problem(
                    f"rule {rule.name!r}",
                    f"its purpose {rule.purpose!r} has no legal basis",
                    f"Add [basis.{rule.purpose}] with basis = one of: {', '.join(BASES)}.",
                )
            )
        elif basis.basis == "consent" and "withdrawn" not in rule.until:
            problems.append(
                Problem(
                    f"rule {rule.name!r}",
                    f"purpose {rule.purpose!r} rests on consent, yet its data outlives withdrawal",
                    'Add until = ["withdrawn"].',
                )
            )
    return problems
