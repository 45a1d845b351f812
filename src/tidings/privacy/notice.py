"""The human-readable privacy notice (Markdown), rendered from the policy and the data map.

Who is responsible, what data (the categories of the classified columns), why and on what
legal basis, how long (each rule in words), who receives it, rights, contact and
complaints. The policy's version and publication date head the notice.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import MetaData

from tidings.domain.classification import DataClass
from tidings.domain.policy import Basis, Period, Policy, Rule
from tidings.privacy.policy import classified_columns
from tidings.privacy.taxonomy import load_regions, load_taxonomy

_UNITS = {
    "d": ("day", "days"),
    "w": ("week", "weeks"),
    "m": ("month", "months"),
    "y": ("year", "years"),
}
_AFTER = {
    "collected": "after it is collected",
    "last_activity": "after the last activity",
    "relationship_end": "after the contractual relationship ends",
    "account_closed": "after the account is closed",
    "withdrawn": "after consent is withdrawn",
}
_UNTIL = {
    "collected": "it is collected",
    "last_activity": "the last activity",
    "relationship_end": "the contractual relationship ends",
    "account_closed": "the account is closed",
    "withdrawn": "consent is withdrawn",
}
_BASES = {
    "contract": "performance of a contract with you, or steps before entering into one",
    "legitimate_interest": "our legitimate interests",
    "consent": "your consent, which you may withdraw at any time without affecting "
    "processing before the withdrawal",
    "legal_obligation": "a legal obligation we are subject to",
    "processor_instruction": "on the instructions of the customer we process it for, who is "
    "its controller, under a processing agreement",
}
RIGHTS = {
    "information": "to be informed about how your personal data is processed (this notice)",
    "access": "to access the personal data held about you and receive a copy",
    "rectification": "to have inaccurate data corrected and incomplete data completed",
    "erasure": "to have your data erased (the right to be forgotten)",
    "restriction": "to have processing restricted",
    "portability": "to receive the data you provided in a structured, commonly used, "
    "machine-readable format, and to have it sent directly to another controller",
    "objection": "to object to processing; an objection to direct marketing stops it at once",
    "withdraw_consent": "to withdraw your consent at any time",
    "automated_decisions": "not to be subject to a decision based solely on automated "
    "processing, including profiling, that has legal or similarly significant effects on you",
    "sender_identity": "as the recipient of a message, to learn who sent it",
}
_PROCESSOR_NOTE = (
    "For the data marked *processor*, we act on behalf of the customer that sends or "
    "receives the messages; that customer is the controller. A request about such data "
    "is forwarded to that customer, or you are asked to contact it directly."
)


def label(key: str) -> str:
    """`account_data` -> `Account data`."""
    return key.replace("_", " ").capitalize()


def period_words(period: Period) -> str:
    one, many = _UNITS[period.unit]
    return f"{period.amount} {one if period.amount == 1 else many}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _field_labels(rule: Rule, columns: dict[str, DataClass | None]) -> list[str]:
    labels: list[str] = []
    for item in rule.fields:
        data = columns.get(item)
        text = load_taxonomy().category_label(data.category) if data else item
        if text not in labels:
            labels.append(text)
    return labels


def _then(rule: Rule, columns: dict[str, DataClass | None]) -> str:
    labels = _field_labels(rule, columns)
    verb = "is" if len(labels) == 1 else "are"
    if rule.action == "redact":
        return f"then the {_join(labels)} {verb} erased"
    if rule.action == "pseudonymise":
        replaced = f": {_join(labels)} {verb} replaced by pseudonyms" if labels else ""
        return f"then pseudonymised{replaced}"
    if rule.action == "anonymise":
        return "then anonymised, so that no one can be identified from it"
    return "then deleted"


def rule_words(rule: Rule, columns: dict[str, DataClass | None] | None = None) -> str:
    """`account_data` (7y from account_closed, delete) ->
    "7 years after the account is closed, then deleted"."""
    if rule.follows_record:
        return "as long as the record it belongs to"
    ends = [_UNTIL[u] for u in rule.until]
    if rule.period is not None and rule.anchor is not None:
        if rule.period.amount == 0:
            ends.insert(0, _UNTIL[rule.anchor])
            timing = ""
        else:
            timing = f"{period_words(rule.period)} {_AFTER[rule.anchor]}"
            if ends:
                timing += f", or until {' or '.join(ends)} if that comes first"
                ends = []
    else:
        timing = ""
    if ends:
        timing = f"until {' or '.join(ends)}"
    if rule.same_as:
        timing += f" (as for {label(rule.same_as).lower()})"
    return f"{timing}, {_then(rule, columns or {})}"


# --- sections ------------------------------------------------------------------------


def _heading(policy: Policy) -> list[str]:
    lines = [f"# {policy.title}", ""]
    lines.append(
        f"*Version {policy.version}, published {policy.published.isoformat()}. This version "
        "takes effect when it is published and replaces every earlier version.*"
    )
    if policy.summary:
        lines += ["", policy.summary]
    return lines


def _who(policy: Policy) -> list[str]:
    c = policy.controller
    lines = ["## Who is responsible", ""]
    where = f", {c.address}" if c.address else ""
    registered = f" ({c.registration})" if c.registration else ""
    lines.append(
        f"**{c.name}**{where}{registered} is the controller of the personal data "
        "described here, except where this notice says it acts as a processor."
    )
    if c.dpo:
        lines += ["", f"Data protection officer: {c.dpo}"]
    return lines


def _what(policy: Policy, columns: dict[str, DataClass | None]) -> list[str]:
    groups: dict[tuple[str, str, str], tuple[set[str], set[str]]] = defaultdict(
        lambda: (set(), set())
    )
    for data in columns.values():
        if data is None or not data.personal:
            continue
        purposes, rules = groups[(data.role, data.subject, data.category)]
        basis = policy.basis_for(data.purpose)
        purposes.add(basis.label if basis else label(data.purpose))
        rule = policy.rule(data.retention)
        rules.add(rule.title if rule else label(data.retention))
    taxonomy = load_taxonomy()
    lines = [
        "## What data we process",
        "",
        "| Data | About | Purpose | Our role | Kept (see below) |",
    ]
    lines.append("|---|---|---|---|---|")
    for (role, subject, category), (purposes, rules) in sorted(groups.items()):
        cells = [
            taxonomy.category_label(category).capitalize(),
            taxonomy.subject_label(subject),
            "; ".join(sorted(purposes)),
            role,
            "; ".join(sorted(rules)),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if any(role == "processor" for role, _, _ in groups):
        lines += ["", _PROCESSOR_NOTE]
    return lines


def _basis_line(basis: Basis) -> str:
    text = f"- **{basis.label}**: {_BASES[basis.basis]} ({basis.article})."
    return f"{text} {basis.description}" if basis.description else text


def _why(policy: Policy) -> list[str]:
    lines = ["## Why, and on what legal basis", ""]
    lines += [_basis_line(b) for b in policy.bases]
    return lines


def _how_long(policy: Policy, columns: dict[str, DataClass | None]) -> list[str]:
    governs: dict[str, list[DataClass]] = defaultdict(list)
    for data in columns.values():
        if data is not None:
            governs[data.retention].append(data)
    lines = ["## How long we keep it", ""]
    for rule in policy.rules:
        used = governs.get(rule.name)
        if used and not any(d.personal for d in used):
            continue  # it governs no personal data
        text = f"- **{rule.title}**: {rule_words(rule, columns)}."
        lines.append(f"{text} {rule.description}" if rule.description else text)
    for note in policy.retention_notes:
        lines += ["", note]
    return lines


def _recipients(policy: Policy) -> list[str]:
    lines = ["## Who receives it", ""]
    if not policy.recipients:
        lines.append("This policy names no recipients of personal data.")
    for r in policy.recipients:
        detail = "; ".join(x for x in (r.purpose, r.location) if x)
        text = f"- **{r.name}**" + (f": {detail}" if detail else "")
        lines.append(f"{text}. {r.description}" if r.description else f"{text}.")
    listed = {r.name.casefold() for r in policy.recipients}
    subprocessors = [s for s in policy.subprocessors if s.name.casefold() not in listed]
    if subprocessors:
        lines += ["", "### Sub-processors", ""]
        regions = load_regions()
        for s in subprocessors:
            region = regions.regions.get(s.region)
            text = f"- **{s.name}**: {s.service}; {region.name if region else s.region}"
            guard = regions.safeguards.get(s.safeguard)
            lines.append(
                f"{text}; transfer under {guard.name} ({guard.article})." if guard else f"{text}."
            )
    if policy.controller.storage:
        lines += ["", f"Where it is stored: {policy.controller.storage}"]
    lines += ["", "### Transfers to other countries", ""]
    if not policy.transfers:
        lines.append("This policy declares no transfers of personal data to other countries.")
    for t in policy.transfers:
        text = f"- {t.destination}: only with {'; or '.join(t.safeguards)}."
        lines.append(f"{text} {t.description}" if t.description else text)
    return lines


def _rights(policy: Policy) -> list[str]:
    rights = policy.rights
    lines = ["## Your rights", ""]
    if rights.granted:
        lines.append("You have the right:")
        lines += [f"- {RIGHTS[r]};" for r in rights.granted]
        lines[-1] = lines[-1].rstrip(";") + "."
    else:
        lines.append("You have the rights that data protection law gives you.")
    extra = []
    if rights.free_of_charge:
        extra.append("Exercising your rights is free of charge.")
    if rights.response_time:
        extra.append(f"We answer a request within {rights.response_time}.")
    if rights.how:
        extra.append(rights.how)
    if extra:
        lines += ["", " ".join(extra)]
    return lines


def _contact(policy: Policy) -> list[str]:
    c = policy.controller
    lines = ["## Contact and complaints", "", f"Privacy contact: {c.contact}"]
    if c.phone and c.phone not in c.contact:
        lines[-1] += f", phone {c.phone}"
    authority = policy.authority
    lines.append("")
    if authority is None:
        lines.append(
            "You may complain to a data protection supervisory authority, in particular where "
            "you live or work or where you believe your rights were infringed."
        )
    else:
        where = f" ({authority.country})" if authority.country else ""
        url = f", {authority.url}" if authority.url else ""
        text = f"You may complain to the supervisory authority: **{authority.name}**{where}{url}."
        lines.append(f"{text} {authority.note}" if authority.note else text)
    return lines


def render_notice(policy: Policy, metadata: MetaData) -> str:
    """The privacy notice in Markdown. Pass `with_registers(policy, registers)` to show the
    registers' contacts, authority and sub-processors (as the record of processing does)."""
    columns = dict(classified_columns(metadata))
    sections = [
        _heading(policy),
        _who(policy),
        _what(policy, columns),
        _why(policy),
        _how_long(policy, columns),
        _recipients(policy),
        _rights(policy),
        _contact(policy),
    ]
    return "\n\n".join("\n".join(s) for s in sections) + "\n"
