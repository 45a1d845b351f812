"""The operator's privacy registers: sub-processors, recipients, privacy contacts, authority.

What the record of processing and the notice cannot read from the tables or the policy:
who else processes the data (and where, under which transfer safeguard), the categories of
recipients, the DPO and privacy contact, and the supervisory authority. A sub-processor or
recipient outside the deployment's region (`[privacy] region`) is a transfer and is refused
without a recorded safeguard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from tidings.core.clock import Clock, iso
from tidings.core.config import Settings
from tidings.core.errors import ConfigError, InvalidInput, NotFound
from tidings.core.ids import new_id
from tidings.domain.policy import Authority, Policy
from tidings.privacy.document import APPLIES_TO
from tidings.privacy.taxonomy import Regions, load_regions
from tidings.store import privacy_registers as store
from tidings.store.database import Database

CONTACT_KINDS = ("dpo", "privacy_contact", "representative")
_LIMITS = {
    "name": 200,
    "service": 200,
    "purpose": 500,
    "email": 320,
    "phone": 64,
    "address": 500,
    "country": 100,
    "url": 500,
    "note": 1000,
}
_NOUNS = {"subprocessors": "sub-processor", "recipients": "recipient", "contacts": "contact"}


@dataclass(frozen=True)
class SubProcessorEntry:
    id: str
    name: str
    service: str
    region: str
    safeguard: str | None
    applies_to: str


@dataclass(frozen=True)
class RecipientEntry:
    id: str
    name: str
    purpose: str | None
    region: str | None
    safeguard: str | None


@dataclass(frozen=True)
class ContactEntry:
    id: str
    kind: str
    name: str
    email: str | None
    phone: str | None
    address: str | None

    @property
    def details(self) -> str:
        """`Jane Doe, dpo@acme.example, +359 2 000 0000`."""
        return ", ".join(x for x in (self.name, self.email, self.phone, self.address) if x)


@dataclass(frozen=True)
class Registers:
    """Everything the registers hold, at one moment."""

    region: str
    subprocessors: tuple[SubProcessorEntry, ...] = ()
    recipients: tuple[RecipientEntry, ...] = ()
    contacts: tuple[ContactEntry, ...] = ()
    authority: Authority | None = None

    def contact(self, kind: str) -> str:
        """The details of every contact of `kind` (`dpo`, ...), `; `-separated; "" if none."""
        return "; ".join(c.details for c in self.contacts if c.kind == kind)


def _invalid(field: str, detail: str, code: str = "invalid_request") -> InvalidInput:
    return InvalidInput(detail, code=code, extra={"field": field})


def _text(values: dict[str, Any], field: str, required: bool = False) -> str | None:
    raw = values.get(field)
    if raw is not None and not isinstance(raw, str):
        raise _invalid(field, f"'{field}' must be text")
    text = (raw or "").strip()
    if not text:
        if required:
            raise _invalid(field, f"'{field}' is required; give a non-empty value")
        return None
    if len(text) > _LIMITS.get(field, 200):
        raise _invalid(field, f"'{field}' is longer than {_LIMITS.get(field, 200)} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise _invalid(field, f"'{field}' must not contain control characters")
    return text


class RegisterService:
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        self.regions: Regions = load_regions()
        if region not in self.regions.regions:
            raise ConfigError(
                f"[privacy]: region {region!r} is not known; use one of: "
                f"{', '.join(sorted(self.regions.regions))}"
            )
        self.db = db
        self.clock = clock
        self.region = region

    # --- validation ---------------------------------------------------------------------

    def _transfer(
        self, what: str, region: str | None, safeguard: str | None, required: bool
    ) -> tuple[str | None, str | None]:
        """The (region, safeguard) of an entry: known values, and a safeguard for a transfer."""
        codes = sorted(self.regions.regions)
        safeguards = sorted(self.regions.safeguards)
        if region is None:
            if required:
                raise _invalid("region", f"'region' is required; use one of: {', '.join(codes)}")
        elif region.lower() not in self.regions.regions:
            raise _invalid(
                "region",
                f"'region' {region!r} is not known; use one of: {', '.join(codes)}",
                "unknown_region",
            )
        region = region.lower() if region else None
        if safeguard is not None and safeguard.lower() not in self.regions.safeguards:
            raise _invalid(
                "safeguard",
                f"'safeguard' {safeguard!r} is not known; use one of: {', '.join(safeguards)}",
                "unknown_safeguard",
            )
        safeguard = safeguard.lower() if safeguard else None
        if region is None or region == self.region:
            return region, safeguard
        home = self.regions.regions[self.region].name
        where = self.regions.regions[region].name
        if safeguard is None:
            raise _invalid(
                "safeguard",
                f"'safeguard' is required: {what} is in {where} ({region}), outside this "
                f"deployment's region {home} ({self.region}), so it receives a transfer that "
                f"needs a recorded safeguard; use one of: {', '.join(safeguards)}",
                "transfer_needs_safeguard",
            )
        if safeguard == "adequacy" and not self.regions.adequacy_covers(self.region, region):
            others = ", ".join(s for s in safeguards if s != "adequacy")
            raise _invalid(
                "safeguard",
                f"'safeguard' adequacy does not apply: no adequacy decision of {home} covers "
                f"{where}; use one of: {others}",
                "transfer_needs_safeguard",
            )
        return region, safeguard

    # --- sub-processors, recipients, contacts --------------------------------------------

    def add_subprocessor(self, values: dict[str, Any]) -> dict[str, Any]:
        name = _text(values, "name", required=True)
        service = _text(values, "service", required=True)
        applies_to = (_text(values, "applies_to") or "all").lower()
        if applies_to not in APPLIES_TO:
            raise _invalid("applies_to", f"'applies_to' must be one of: {', '.join(APPLIES_TO)}")
        region, safeguard = self._transfer(
            f"sub-processor {name!r}",
            _text(values, "region", required=True),
            _text(values, "safeguard"),
            required=True,
        )
        entry = {
            "name": name,
            "service": service,
            "region": region,
            "safeguard": safeguard,
            "applies_to": applies_to,
        }
        return self._add("subprocessors", "spr", entry)

    def add_recipient(self, values: dict[str, Any]) -> dict[str, Any]:
        name = _text(values, "name", required=True)
        region, safeguard = self._transfer(
            f"recipient {name!r}",
            _text(values, "region"),
            _text(values, "safeguard"),
            required=False,
        )
        entry = {
            "name": name,
            "purpose": _text(values, "purpose"),
            "region": region,
            "safeguard": safeguard,
        }
        return self._add("recipients", "rcp", entry)

    def add_contact(self, values: dict[str, Any]) -> dict[str, Any]:
        kind = (_text(values, "kind", required=True) or "").lower()
        if kind not in CONTACT_KINDS:
            raise _invalid(
                "kind", f"'kind' {kind!r} is not known; use one of: {', '.join(CONTACT_KINDS)}"
            )
        entry = {
            "kind": kind,
            "name": _text(values, "name", required=True),
            "email": _text(values, "email"),
            "phone": _text(values, "phone"),
            "address": _text(values, "address"),
        }
        if entry["email"] and "@" not in entry["email"]:
            raise _invalid("email", "'email' must be an email address, like dpo@example.com")
        if not (entry["email"] or entry["phone"] or entry["address"]):
            raise _invalid(
                "email", "'email' is required unless 'phone' or 'address' says how to reach them"
            )
        return self._add("contacts", "pct", entry)

    def _add(self, register: str, prefix: str, entry: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        values = {"id": new_id(prefix, now), **entry, "created_at": now}
        with self.db.write() as conn:
            store.add_entry(conn, register, values)
        return _view(values)

    def entries(self, register: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return [_view(row) for row in store.list_entries(conn, register)]

    def remove(self, register: str, entry_id: str) -> None:
        with self.db.write() as conn:
            removed = store.remove_entry(conn, register, entry_id)
        if not removed:
            noun = _NOUNS[register]
            raise NotFound(
                f"no {noun} {entry_id!r} in the register; list them to see their ids",
                code=f"{noun.replace('-', '')}_not_found",
            )

    # --- the supervisory authority ------------------------------------------------------

    def set_authority(self, values: dict[str, Any]) -> dict[str, Any]:
        entry = {
            "name": _text(values, "name", required=True),
            "country": _text(values, "country"),
            "url": _text(values, "url"),
            "note": _text(values, "note"),
        }
        with self.db.write() as conn:
            store.set_authority(conn, entry, self.clock.now())
        return self.authority()

    def authority(self) -> dict[str, Any]:
        with self.db.read() as conn:
            row = store.get_authority(conn)
        if row is None:
            raise NotFound(
                "no supervisory authority is registered; set one (name, country, url)",
                code="authority_not_found",
            )
        return _view(row)

    def clear_authority(self) -> None:
        with self.db.write() as conn:
            if not store.clear_authority(conn):
                raise NotFound("no supervisory authority is registered", code="authority_not_found")

    # --- reading them all, seeding from the policy -------------------------------------

    def snapshot(self) -> Registers:
        with self.db.read() as conn:
            subprocessors = store.list_entries(conn, "subprocessors")
            recipients = store.list_entries(conn, "recipients")
            contacts = store.list_entries(conn, "contacts")
            authority = store.get_authority(conn)
        return Registers(
            region=self.region,
            subprocessors=tuple(SubProcessorEntry(**_fields(r)) for r in subprocessors),
            recipients=tuple(RecipientEntry(**_fields(r)) for r in recipients),
            contacts=tuple(ContactEntry(**_fields(r)) for r in contacts),
            authority=Authority(
                authority["name"],
                authority["country"] or "",
                authority["url"] or "",
                authority["note"] or "",
            )
            if authority
            else None,
        )

    def seed(self, policy: Policy) -> list[dict[str, Any]]:
        """Register the sub-processors the policy's notice names and the register lacks."""
        known = {e["name"].casefold() for e in self.entries("subprocessors")}
        added = []
        for item in policy.subprocessors:
            if item.name.casefold() in known:
                continue
            added.append(
                self.add_subprocessor(
                    {
                        "name": item.name,
                        "service": item.service,
                        "region": item.region,
                        "safeguard": item.safeguard or None,
                        "applies_to": item.applies_to,
                    }
                )
            )
        return added


def stored_registers(settings: Settings, clock: Clock) -> Registers | None:
    """The registers in the configured database, or None when it has none yet (no database
    file, or one not migrated to the registers). Creates nothing."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (
        url.database and url.database != ":memory:" and Path(url.database).is_file()
    ):
        return None
    db = Database(settings.database_url, pool_size=1)
    try:
        if not inspect(db.engine).has_table("privacy_contacts"):
            return None
        return RegisterService(db, clock, settings.region).snapshot()
    finally:
        db.dispose()


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("created_at", "updated_at")}


def _view(row: dict[str, Any]) -> dict[str, Any]:
    view = dict(row)
    for key in ("created_at", "updated_at"):
        if key in view:
            view[key] = iso(view[key])
    return view
