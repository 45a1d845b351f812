"""Read a policy document (decoded TOML) into the domain model, listing every problem.

Pure: no files here. `parse_policy` raises `PolicyInvalid` with one `Problem` per mistake,
each naming the section, rule or field and saying how to fix it. The shape is described
in docs/privacy.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any, TypeVar, cast

from tidings.domain.policy import (
    ACTIONS,
    ANCHORS,
    ARTICLES,
    BASES,
    NAME,
    RIGHTS,
    Action,
    Anchor,
    Authority,
    Basis,
    Controller,
    Period,
    PeriodError,
    Policy,
    PolicyBasis,
    PolicyInvalid,
    Problem,
    Recipient,
    Right,
    Rights,
    Rule,
    SubProcessor,
    Transfer,
    parse_period,
)

_T = TypeVar("_T")
_FIELD = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_TIMING = ("period", "anchor", "until", "same_as", "action", "fields")
_RULE_KEYS = ("name", "label", *_TIMING, "purpose", "follows", "description", "source")
_BASIS_KEYS = ("basis", "article", "label", "description", "source")
_CONTROLLER_KEYS = (
    "name",
    "contact",
    "address",
    "registration",
    "phone",
    "dpo",
    "jurisdiction",
    "storage",
)
_AUTHORITY_KEYS = ("name", "country", "url", "note")
_RIGHTS_KEYS = ("granted", "response_time", "free_of_charge", "how", "source")
_RECIPIENT_KEYS = ("name", "purpose", "location", "description", "source")
_TRANSFER_KEYS = ("destination", "safeguards", "description", "source")
_SUBPROCESSOR_KEYS = ("name", "service", "region", "safeguard", "applies_to", "source")
APPLIES_TO = ("all", "controller", "processor")
_POLICY_KEYS = ("name", "title", "version", "published", "summary", "based_on", "retention_notes")
SECTIONS = (
    "policy",
    "controller",
    "authority",
    "rights",
    "rules",
    "basis",
    "recipients",
    "transfers",
    "subprocessors",
)


class _Table:
    """Typed access to one TOML table that records problems instead of raising."""

    def __init__(self, raw: Any, where: str, problems: list[Problem], known: Iterable[str]) -> None:
        self.where = where
        self.problems = problems
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if not isinstance(raw, dict):
            self.problem("must be a table", "Write it as [section] or [[section]] with keys.")
        allowed = sorted(set(known))
        for key in sorted(set(self.raw) - set(allowed)):
            self.problem(f"unknown key {key!r}", f"Known keys: {', '.join(allowed)}.")

    def problem(self, message: str, fix: str = "", key: str | None = None) -> None:
        where = f"{self.where}, {key}" if key else self.where
        self.problems.append(Problem(where, message, fix))

    def text(self, key: str, required: bool = False) -> str:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.problem(f"'{key}' is missing", f'Add {key} = "...".')
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.problem(f"'{key}' must be a non-empty string, got {value!r}", key=key)
            return ""
        return value.strip()

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem(f"'{key}' must be a list of strings, got {value!r}", key=key)
            return ()
        return tuple(v.strip() for v in value)

    def flag(self, key: str) -> bool:
        value = self.raw.get(key, False)
        if not isinstance(value, bool):
            self.problem(f"'{key}' must be true or false, got {value!r}", key=key)
            return False
        return value

    def choice(self, key: str, allowed: tuple[str, ...], value: str | None = None) -> str | None:
        value = self.text(key) if value is None else value
        if not value:
            return None
        if value not in allowed:
            self.problem(
                f"{key} {value!r} is not known", f"Use one of: {', '.join(allowed)}.", key=key
            )
            return None
        return value


def _each(raw: Any, where: str, problems: list[Problem]) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem(where, "must be an array of tables", f"Write it as [[{where}]]."))
        return []
    return raw


# --- rules ---------------------------------------------------------------------------


def _rule_where(raw: Any, index: int) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"rule {name!r}" if isinstance(name, str) and name else f"[[rules]] #{index + 1}"


def _parse_rule(raw: Any, index: int, problems: list[Problem]) -> Rule | None:
    t = _Table(raw, _rule_where(raw, index), problems, _RULE_KEYS)
    start = len(problems)
    name = t.text("name", required=True)
    if name and not NAME.match(name):
        t.problem(
            f"name {name!r} is not a rule name",
            "Use lowercase letters, digits and _, starting with a letter (account_data).",
        )
    follows = t.text("follows")
    rule = _follows_rule(t, name, follows) if follows else _timed_rule(t, name)
    return rule if len(problems) == start else None


def _follows_rule(t: _Table, name: str, follows: str) -> Rule:
    if follows != "record":
        t.problem(f"follows {follows!r} is not known", 'The only value is follows = "record".')
    present = sorted(k for k in _TIMING if k in t.raw)
    if present:
        t.problem(
            f"a rule that follows its record cannot set {', '.join(present)}",
            "Remove those keys, or remove follows to give the rule its own timing.",
        )
    return Rule(
        name=name,
        follows_record=True,
        purpose=t.text("purpose") or None,
        label=t.text("label"),
        description=t.text("description"),
        source=t.text("source"),
    )


def _timed_rule(t: _Table, name: str) -> Rule:
    period: Period | None = None
    if "period" in t.raw:
        try:
            period = parse_period(t.raw["period"])
        except PeriodError as exc:
            t.problem(exc.message, exc.fix, key="period")
    anchor = cast(Anchor | None, t.choice("anchor", ANCHORS))
    until = tuple(cast(Anchor | None, t.choice("until", ANCHORS, u)) for u in t.texts("until"))
    same_as = t.text("same_as") or None
    if same_as and {"period", "anchor", "until"} & set(t.raw):
        t.problem(
            "same_as cannot be combined with period, anchor or until",
            "Keep same_as to copy that rule's timing, or drop it and give your own.",
        )
    elif not same_as and "period" not in t.raw and not until:
        t.problem(
            "the rule says neither how long nor until when",
            'Add period = "..." (and an anchor), until = ["withdrawn"], same_as = "<rule>" '
            'or follows = "record".',
        )
    if "anchor" in t.raw and "period" not in t.raw and not same_as:
        t.problem("an anchor needs a period", 'Add period = "..." or remove the anchor.')
    action, fields = _action_and_fields(t)
    return Rule(
        name=name,
        period=period,
        anchor=anchor or ("collected" if period else None),
        until=tuple(u for u in until if u),
        action=action,
        fields=fields,
        purpose=t.text("purpose", required=True) or None,
        same_as=same_as,
        label=t.text("label"),
        description=t.text("description"),
        source=t.text("source"),
    )


def _action_and_fields(t: _Table) -> tuple[Action, tuple[str, ...]]:
    fields = t.texts("fields")
    for item in fields:
        if not _FIELD.match(item):
            t.problem(f"field {item!r} is not table.column", 'Write it like "messages.reference".')
    action = cast(Action | None, t.choice("action", ACTIONS))
    if action is None:
        return "delete", fields
    if action == "redact" and not fields:
        t.problem(
            "action 'redact' needs the fields to erase",
            'Add fields = ["table.column", ...], or use action = "delete".',
        )
    if action == "delete" and fields:
        t.problem(
            "action 'delete' removes the whole record, so fields do not apply",
            'Remove fields, or use action = "redact".',
        )
    return action, fields


def _resolve_same_as(rules: list[Rule], declared: set[str], problems: list[Problem]) -> list[Rule]:
    """Copy the timing of the rule each `same_as` names (following chains)."""
    by_name = {r.name: r for r in rules}

    def timing(rule: Rule, seen: tuple[str, ...]) -> Rule | None:
        if rule.same_as is None:
            return rule
        where = f"rule {seen[0] if seen else rule.name!r}"
        if rule.same_as in (*seen, rule.name):
            chain = " -> ".join((*seen, rule.name, rule.same_as))
            problems.append(
                Problem(where, f"same_as goes round in a circle ({chain})", "Give one a period.")
            )
            return None
        target = by_name.get(rule.same_as)
        if target is None:
            if rule.same_as not in declared:  # a rule with its own problems is reported already
                problems.append(
                    Problem(
                        where,
                        f"same_as names rule {rule.same_as!r}, which the policy does not define",
                        f"Define it, or use one of: {', '.join(sorted(by_name))}.",
                    )
                )
            return None
        if target.follows_record:
            problems.append(
                Problem(
                    where,
                    f"same_as names rule {target.name!r}, which has no timing of its own",
                    "Point same_as at a rule with a period.",
                )
            )
            return None
        return timing(target, (*seen, rule.name))

    resolved: list[Rule] = []
    for rule in rules:
        source = timing(rule, ())
        if source is not None:
            resolved.append(
                replace(rule, period=source.period, anchor=source.anchor, until=source.until)
            )
    return resolved


def _parse_rules(raw: Any, problems: list[Problem]) -> list[Rule]:
    items = _each(raw, "rules", problems)
    if not items:
        if raw is None or raw == []:
            problems.append(Problem("policy file", "declares no rules", "Add [[rules]] entries."))
        return []
    declared = {x["name"] for x in items if isinstance(x, dict) and isinstance(x.get("name"), str)}
    rules = [r for r in (_parse_rule(x, i, problems) for i, x in enumerate(items)) if r]
    names = [r.name for r in rules]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            Problem(f"rule {duplicate!r}", "is defined more than once", "Keep one entry per name.")
        )
    return _resolve_same_as(rules, declared, problems)


# --- the other sections ----------------------------------------------------------------


def _parse_bases(raw: Any, problems: list[Problem]) -> list[Basis]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        problems.append(Problem("[basis]", "must be a table", "Write one [basis.<purpose>] each."))
        return []
    bases: list[Basis] = []
    for purpose, entry in raw.items():
        t = _Table(entry, f"[basis.{purpose}]", problems, _BASIS_KEYS)
        if not NAME.match(purpose):
            t.problem(f"purpose {purpose!r} is not a name", "Use lowercase letters, digits and _.")
        if "basis" not in t.raw:
            t.problem("'basis' is missing", f"Add basis = one of: {', '.join(BASES)}.")
            continue
        basis = t.choice("basis", BASES)
        if basis is None:
            continue
        bases.append(
            Basis(
                purpose=purpose,
                basis=cast(PolicyBasis, basis),
                article=t.text("article") or ARTICLES[basis],
                label=t.text("label") or purpose.replace("_", " ").capitalize(),
                description=t.text("description"),
                source=t.text("source"),
            )
        )
    return bases


def _parse_list(
    raw: Any,
    key: str,
    problems: list[Problem],
    build: Callable[[_Table], _T | None],
    known: tuple[str, ...],
) -> tuple[_T, ...]:
    items: list[_T] = []
    for index, entry in enumerate(_each(raw, key, problems)):
        item = build(_Table(entry, f"[[{key}]] #{index + 1}", problems, known))
        if item is not None:
            items.append(item)
    return tuple(items)


def _recipient(t: _Table) -> Recipient | None:
    name = t.text("name", required=True)
    if not name:
        return None
    return Recipient(
        name, t.text("purpose"), t.text("location"), t.text("description"), t.text("source")
    )


def _transfer(t: _Table) -> Transfer | None:
    destination = t.text("destination", required=True)
    safeguards = t.texts("safeguards")
    if not safeguards:
        t.problem(
            "a transfer needs at least one recorded safeguard",
            'Add safeguards = ["standard contractual clauses"] (or an adequacy decision, ...).',
        )
    if not destination or not safeguards:
        return None
    return Transfer(destination, safeguards, t.text("description"), t.text("source"))


def _subprocessor(t: _Table) -> SubProcessor | None:
    name, service = t.text("name", required=True), t.text("service", required=True)
    region = t.text("region", required=True).lower()
    applies_to = t.choice("applies_to", APPLIES_TO) or "all"
    if not (name and service and region):
        return None
    return SubProcessor(name, service, region, t.text("safeguard"), applies_to, t.text("source"))


def _parse_published(t: _Table) -> date:
    value = t.raw.get("published")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if value is None:
        t.problem("'published' is missing", "Add published = 2026-01-31 (the day it takes effect).")
    else:
        t.problem(f"published {value!r} is not a date", "Write it as published = 2026-01-31.")
    return date.min


def _parse_controller(raw: Any, problems: list[Problem]) -> Controller:
    t = _Table(raw, "[controller]", problems, _CONTROLLER_KEYS)
    return Controller(
        name=t.text("name", required=True),
        contact=t.text("contact", required=True),
        address=t.text("address"),
        registration=t.text("registration"),
        phone=t.text("phone"),
        dpo=t.text("dpo"),
        jurisdiction=t.text("jurisdiction"),
        storage=t.text("storage"),
    )


def _parse_authority(raw: Any, problems: list[Problem]) -> Authority | None:
    if raw is None:
        return None
    t = _Table(raw, "[authority]", problems, _AUTHORITY_KEYS)
    name = t.text("name", required=True)
    return Authority(name, t.text("country"), t.text("url"), t.text("note"))


def _parse_rights(raw: Any, problems: list[Problem]) -> Rights:
    t = _Table({} if raw is None else raw, "[rights]", problems, _RIGHTS_KEYS)
    chosen = [t.choice("granted", RIGHTS, g) for g in t.texts("granted")]
    return Rights(
        granted=tuple(cast(Right, r) for r in chosen if r),
        response_time=t.text("response_time"),
        free_of_charge=t.flag("free_of_charge"),
        how=t.text("how"),
        source=t.text("source"),
    )


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """A decoded policy document -> Policy. Raises PolicyInvalid listing every problem."""
    problems: list[Problem] = []
    for key in sorted(set(data) - set(SECTIONS)):
        problems.append(
            Problem("policy file", f"unknown section {key!r}", f"Known: {', '.join(SECTIONS)}.")
        )
    head = _Table(data.get("policy"), "[policy]", problems, _POLICY_KEYS)
    name, version = head.text("name", required=True), head.text("version", required=True)
    published = _parse_published(head)
    controller = _parse_controller(data.get("controller"), problems)
    authority = _parse_authority(data.get("authority"), problems)
    rights = _parse_rights(data.get("rights"), problems)
    rules = _parse_rules(data.get("rules"), problems)
    bases = _parse_bases(data.get("basis"), problems)
    recipients = _parse_list(
        data.get("recipients"), "recipients", problems, _recipient, _RECIPIENT_KEYS
    )
    transfers = _parse_list(data.get("transfers"), "transfers", problems, _transfer, _TRANSFER_KEYS)
    subprocessors = _parse_list(
        data.get("subprocessors"), "subprocessors", problems, _subprocessor, _SUBPROCESSOR_KEYS
    )
    if problems:
        raise PolicyInvalid(problems)
    return Policy(
        name=name,
        title=head.text("title") or name,
        version=version,
        published=published,
        controller=controller,
        rules=tuple(rules),
        bases=tuple(bases),
        recipients=recipients,
        transfers=transfers,
        subprocessors=subprocessors,
        rights=rights,
        authority=authority,
        summary=head.text("summary"),
        based_on=head.text("based_on"),
        retention_notes=head.texts("retention_notes"),
    )
