"""The record of processing activities (GDPR Art. 30), generated, never typed by hand.

Art. 30(1) for the operator as controller (accounts, users, billing: the data sets whose
personal columns are classified `controller`) and Art. 30(2) for what it processes for the
accounts (messages, contacts: `processor`). Every element comes from the data map (the
classified tables), the policy in force and the registers (`with_registers`):

- (a) names and contacts: the policy's controller, the registers' privacy contact, DPO,
  representative (and for 30(2) each account it processes for, and its sub-processors);
- (b) purposes with their legal basis (the policy's `[basis.<purpose>]`);
- (c) categories of data subjects and of personal data (the taxonomy's words);
- (d) recipients and processors; (e) transfers with their safeguards;
- (f) time limits: each retention rule with the period of the policy in force;
- (g) security measures, read from how each personal column is stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData

from tidings.core.clock import iso
from tidings.domain.classification import DataClass
from tidings.domain.policy import Policy
from tidings.privacy.datamap import DataItem, DataMap, build_data_map, describe
from tidings.privacy.effective import region_name, safeguard_words, with_registers
from tidings.privacy.notice import rule_words
from tidings.privacy.registers import Registers
from tidings.privacy.taxonomy import Taxonomy, load_regions, load_taxonomy

Entry = dict[str, str]
TITLES = {
    "controller": "Record of processing activities of the controller (GDPR Art. 30(1))",
    "processor": "Record of categories of processing activities carried out on behalf of a "
    "controller (GDPR Art. 30(2))",
}


@dataclass(frozen=True)
class Element:
    ref: str
    article: str
    title: str
    entries: tuple[Entry, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "article": self.article,
            "title": self.title,
            "entries": list(self.entries),
        }


def _join(values: list[str] | tuple[str, ...] | set[str]) -> str:
    return "; ".join(sorted(set(values)))


class _Builder:
    def __init__(
        self,
        policy: Policy,
        registers: Registers,
        data_map: DataMap,
        taxonomy: Taxonomy,
        accounts: list[dict[str, Any]],
    ) -> None:
        self.policy = policy
        self.registers = registers
        self.data_map = data_map
        self.taxonomy = taxonomy
        self.accounts = accounts
        self.columns: dict[str, DataClass | None] = {i.name: i.data for i in data_map.items()}
        self.problems: list[str] = []

    # --- (a) who ---------------------------------------------------------------------------

    def _parties(self, role: str) -> list[Entry]:
        c = self.policy.controller
        party = "Controller" if role == "controller" else "Processor"
        entries = [
            {
                "name": party,
                "value": c.name,
                "contact": c.contact,
                "address": c.address,
                "registration": c.registration,
                "phone": c.phone,
            }
        ]
        entries.append({"name": "Data protection officer", "value": c.dpo or "none recorded"})
        if not c.dpo:
            self.problems.append(
                "no data protection officer is recorded: add one with "
                "`tidings privacy contact add --kind dpo` (or dpo in the policy's [controller])"
            )
        entries.append({"name": "Privacy contact", "value": c.contact})
        representative = self.registers.contact("representative")
        if representative:
            entries.append({"name": "Representative", "value": representative})
        if role == "processor":
            for account in self.accounts:
                label = account.get("name") or "(name erased)"
                entries.append(
                    {
                        "name": "Controller (account)",
                        "value": f"{label} ({account['id']})",
                        "status": str(account.get("status", "")),
                    }
                )
            if not self.accounts:
                entries.append({"name": "Controller (account)", "value": "no accounts yet"})
        for sub in self._subprocessors(role):
            entries.append(
                {
                    "name": "Sub-processor" if role == "processor" else "Processor",
                    "value": sub["name"],
                    "service": sub["service"],
                    "region": sub["region"],
                }
            )
        return entries

    # --- (b) why ---------------------------------------------------------------------------

    def _purposes(self, items: list[DataItem]) -> list[Entry]:
        by_purpose: dict[str, list[DataItem]] = defaultdict(list)
        for item in items:
            by_purpose[item.data.purpose].append(item)
        entries = []
        for purpose, used in sorted(by_purpose.items()):
            basis = self.policy.basis_for(purpose)
            if basis is None:
                self.problems.append(f"purpose {purpose!r} has no legal basis in the policy")
            entries.append(
                {
                    "name": basis.label if basis else purpose,
                    "purpose": purpose,
                    "legal_basis": basis.basis if basis else "MISSING",
                    "article": basis.article if basis else "",
                    "data_sets": _join({i.table for i in used}),
                    "categories": _join({self._category(i) for i in used}),
                    "description": basis.description if basis else "",
                }
            )
        return entries

    def _category(self, item: DataItem) -> str:
        term = self.taxonomy.categories.get(item.data.category)
        return term.name if term else item.data.category

    def _processing(self, items: list[DataItem]) -> list[Entry]:
        """Art. 30(2)(b): per purpose, its basis, whose data, what data and how long."""
        entries = self._purposes(items)
        for entry in entries:
            used = [i for i in items if i.data.purpose == entry["purpose"]]
            entry["data_subjects"] = _join({self._subject(i) for i in used})
            limits = []
            for name in sorted({i.data.retention for i in used}):
                rule = self.policy.rule(name)
                if rule is not None:
                    limits.append(f"{rule.title}: {rule_words(rule, self.columns)}")
            entry["time_limits"] = "; ".join(limits)
        return entries

    def _subject(self, item: DataItem) -> str:
        term = self.taxonomy.subjects.get(item.data.subject)
        return term.name if term else item.data.subject

    # --- (c) whose and what ----------------------------------------------------------------

    def _categories(self, items: list[DataItem]) -> list[Entry]:
        by_subject: dict[str, list[DataItem]] = defaultdict(list)
        for item in items:
            by_subject[item.data.subject].append(item)
        entries = []
        for subject, used in sorted(by_subject.items()):
            term = self.taxonomy.subjects.get(subject)
            entries.append(
                {
                    "name": term.name if term else subject,
                    "subject": subject,
                    "personal_data": _join({self._category(i) for i in used}),
                    "taxonomy": _join({i.data.category for i in used}),
                    "data_sets": _join({i.table for i in used}),
                }
            )
        return entries

    # --- (d) recipients, (e) transfers -------------------------------------------------

    def _subprocessors(self, role: str) -> list[Entry]:
        return [
            {
                "name": s.name,
                "service": s.service,
                "region": s.region,
                "safeguard": s.safeguard,
            }
            for s in self.policy.subprocessors
            if s.applies_to in ("all", role)
        ]

    def _recipients(self, role: str) -> list[Entry]:
        processors = {s["name"].casefold() for s in self._subprocessors(role)}
        entries = [
            {
                "name": r.name,
                "kind": "recipient",
                "purpose": r.purpose,
                "location": r.location,
            }
            for r in self.policy.recipients
            if r.name.casefold() not in processors  # listed below, with their region
        ]
        entries += [
            {
                "name": s["name"],
                "kind": "sub-processor" if role == "processor" else "processor",
                "purpose": s["service"],
                "location": region_name(s["region"]),
            }
            for s in self._subprocessors(role)
        ]
        return entries or [{"name": "None", "kind": "", "purpose": "", "location": ""}]

    def _transfers(self, role: str) -> list[Entry]:
        home = self.registers.region
        entries = []
        abroad = [s for s in self._subprocessors(role) if s["region"] != home]
        abroad += [
            {"name": r.name, "region": r.region, "safeguard": r.safeguard or ""}
            for r in self.registers.recipients
            if r.region and r.region != home
        ]
        for item in abroad:
            if not item["safeguard"]:
                self.problems.append(
                    f"{item['name']} is in {region_name(item['region'])}, outside the "
                    f"deployment's region, with no recorded safeguard"
                )
            entries.append(
                {
                    "name": item["name"],
                    "destination": region_name(item["region"]),
                    "region": item["region"],
                    "safeguard": safeguard_words(item["safeguard"])
                    if item["safeguard"]
                    else "none recorded",
                }
            )
        registered = {e["name"] for e in entries}
        for transfer in self.policy.transfers:
            if any(transfer.destination.startswith(f"{n}, in ") for n in registered):
                continue  # the registers' own, listed above
            entries.append(
                {
                    "name": "Declared by the policy",
                    "destination": transfer.destination,
                    "region": "",
                    "safeguard": "; or ".join(transfer.safeguards),
                }
            )
        if not entries:
            entries.append(
                {
                    "name": "None",
                    "destination": f"Personal data stays in {region_name(home)} ({home})",
                    "region": home,
                    "safeguard": "not needed",
                }
            )
        return entries

    # --- (f) how long ----------------------------------------------------------------------

    def _time_limits(self, items: list[DataItem]) -> list[Entry]:
        by_rule: dict[str, list[DataItem]] = defaultdict(list)
        for item in items:
            by_rule[item.data.retention].append(item)
        entries = []
        for name, used in sorted(by_rule.items()):
            rule = self.policy.rule(name)
            if rule is None:
                self.problems.append(f"retention rule {name!r} is not defined by the policy")
                continue
            entries.append(
                {
                    "name": rule.title,
                    "rule": name,
                    "period": str(rule.period) if rule.period else "",
                    "anchor": rule.anchor or "",
                    "action": "" if rule.follows_record else rule.action,
                    "time_limit": rule_words(rule, self.columns),
                    "categories": _join({self._category(i) for i in used}),
                }
            )
        return entries

    # --- (g) security ----------------------------------------------------------------------

    def _security(self, items: list[DataItem]) -> list[Entry]:
        def columns(protection: str) -> str:
            return ", ".join(i.name for i in items if i.protection == protection)

        entries = []
        encrypted = columns("encrypted")
        if encrypted:
            entries.append(
                {
                    "name": "Encryption at rest",
                    "value": "AES-GCM envelope encryption: master key, then a data key per "
                    f"account; encrypted columns: {encrypted}",
                }
            )
        indexed = columns("blind_index")
        if indexed:
            entries.append(
                {
                    "name": "Pseudonymisation (blind indexes)",
                    "value": "lookups by a personal value use a keyed hash (HMAC), never the "
                    f"value: {indexed}",
                }
            )
        hashed = columns("hashed")
        if hashed:
            entries.append(
                {"name": "One-way hashing", "value": f"passwords hashed with argon2id: {hashed}"}
            )
        if self.data_map.data_set("data_keys") is not None:
            entries.append(
                {
                    "name": "Crypto-shredding",
                    "value": "destroying an account's data key makes its encrypted data "
                    "unreadable everywhere, backups included",
                }
            )
        entries.append(
            {
                "name": "Access control",
                "value": "API keys with scopes, stored only as hashes; each account reaches "
                "only its own data; deployment-wide endpoints need the operator scope",
            }
        )
        dpo = self.policy.controller.dpo
        entries.append({"name": "Data protection officer", "value": dpo or "none recorded"})
        home = self.registers.region
        entries.append(
            {"name": "Data location", "value": f"{region_name(home)} ({home}), set in [privacy]"}
        )
        plain = columns("plain")
        if plain:
            entries.append({"name": "Stored readable (with a reason)", "value": plain})
        return entries

    # --- the records -----------------------------------------------------------------------

    def record(self, role: str) -> dict[str, Any]:
        items = self.data_map.personal(role)
        n = "1" if role == "controller" else "2"
        parts: list[tuple[str, str, list[Entry]]]
        if role == "controller":
            parts = [
                ("a", "Name and contact details of the controller, its representative and "
                 "data protection officer", self._parties(role)),
                ("b", "Purposes of the processing, each with its legal basis",
                 self._purposes(items)),
                ("c", "Categories of data subjects and of personal data",
                 self._categories(items)),
                ("d", "Categories of recipients, including in third countries",
                 self._recipients(role)),
                ("e", "Transfers to a third country, with their safeguards",
                 self._transfers(role)),
                ("f", "Time limits for erasure", self._time_limits(items)),
                ("g", "Technical and organisational security measures", self._security(items)),
            ]  # fmt: skip
        else:
            parts = [
                ("a", "Name and contact details of the processor, its sub-processors, each "
                 "controller it acts for, and the data protection officer", self._parties(role)),
                ("b", "Categories of processing carried out on behalf of each controller",
                 self._processing(items)),
                ("c", "Transfers to a third country, with their safeguards",
                 self._transfers(role)),
                ("d", "Technical and organisational security measures", self._security(items)),
            ]  # fmt: skip
        elements = [
            Element(ref, f"Art. 30({n})({ref})", title, tuple(entries))
            for ref, title, entries in parts
        ]
        data_sets = [d.name for d in self.data_map.data_sets if role in d.roles]
        return {
            "role": role,
            "article": f"Art. 30({n})",
            "title": TITLES[role],
            "data_sets": data_sets,
            "elements": [e.as_dict() for e in elements],
        }


def build_ropa(
    policy: Policy,
    registers: Registers,
    metadata: MetaData,
    accounts: list[dict[str, Any]],
    generated_at: datetime,
) -> dict[str, Any]:
    """The record of processing as plain data (JSON-ready), for the policy in force."""
    effective = with_registers(policy, registers)
    taxonomy = load_taxonomy()
    data_map = build_data_map(metadata)
    builder = _Builder(effective, registers, data_map, taxonomy, accounts)
    records = [builder.record("controller"), builder.record("processor")]
    region = load_regions().regions[registers.region]
    authority = effective.authority
    return {
        "title": "Record of processing activities (GDPR Art. 30)",
        "generated_at": iso(generated_at),
        "policy": {
            "name": policy.name,
            "version": policy.version,
            "published": policy.published.isoformat(),
        },
        "controller": effective.controller.name,
        "region": {"code": region.code, "name": region.name, "law": region.law},
        "authority": {
            "name": authority.name,
            "country": authority.country,
            "url": authority.url,
        }
        if authority
        else None,
        "roles": {d.name: d.role for d in data_map.data_sets},
        "records": records,
        "problems": sorted(set(builder.problems)),
        "data_map": describe(data_map, effective, taxonomy),
    }
