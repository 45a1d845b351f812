"""`tidings privacy ...`: the registers, the data map and the record of processing (Art. 30)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from tidings.cli.authority_requests import authority_requests_app
from tidings.cli.erasure import erasure_app
from tidings.core.errors import TidingsError
from tidings.privacy.datamap import build_data_map, describe
from tidings.privacy.effective import with_registers
from tidings.privacy.ropa import build_ropa
from tidings.privacy.ropa_formats import render
from tidings.privacy.taxonomy import load_taxonomy
from tidings.runtime import Runtime
from tidings.store.tables import metadata

privacy_app = typer.Typer(
    help="Privacy registers and the record of processing (GDPR Art. 30).", no_args_is_help=True
)
subprocessor_app = typer.Typer(help="Sub-processors (and processors) the operator engages.")
recipient_app = typer.Typer(help="Categories of recipients of personal data.")
contact_app = typer.Typer(help="The DPO, the privacy contact and the EU/UK representative.")
authority_app = typer.Typer(help="The supervisory authority complaints go to.")
privacy_app.add_typer(subprocessor_app, name="subprocessor", no_args_is_help=True)
privacy_app.add_typer(recipient_app, name="recipient", no_args_is_help=True)
privacy_app.add_typer(contact_app, name="contact", no_args_is_help=True)
privacy_app.add_typer(authority_app, name="authority", no_args_is_help=True)
privacy_app.add_typer(authority_requests_app, name="authority-requests", no_args_is_help=True)
# erase, erasures, redact, anonymise, stats
privacy_app.registered_commands.extend(erasure_app.registered_commands)

ConfigOption = typer.Option(
    None, "--config", help="TOML config file ([privacy] policy and region).", dir_okay=False
)
JsonOption = typer.Option(False, "--json", help="Print JSON.")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@contextmanager
def _runtime(config: Path | None) -> Iterator[Runtime]:
    """The runtime (database, policy, region), closed afterwards; user errors exit 2."""
    from tidings.cli.main import open_runtime  # main registers this app: import it late

    rt = open_runtime(config)
    try:
        yield rt
    except TidingsError as exc:
        _fail(exc.detail)
    finally:
        rt.close()


def _print(data: Any, as_json: bool, line: Callable[[dict[str, Any]], str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif isinstance(data, list):
        for item in data:
            typer.echo(line(item))
    else:
        typer.echo(line(data))


def _subprocessor_line(e: dict[str, Any]) -> str:
    safeguard = f"  safeguard: {e['safeguard']}" if e["safeguard"] else ""
    return f"{e['id']}  {e['name']}  ({e['service']}; {e['region']}; {e['applies_to']}){safeguard}"


def _recipient_line(e: dict[str, Any]) -> str:
    extra = "; ".join(x for x in (e["purpose"], e["region"], e["safeguard"]) if x)
    return f"{e['id']}  {e['name']}" + (f"  ({extra})" if extra else "")


def _contact_line(e: dict[str, Any]) -> str:
    details = ", ".join(x for x in (e["email"], e["phone"], e["address"]) if x)
    return f"{e['id']}  {e['kind']}: {e['name']}, {details}"


def _authority_line(e: dict[str, Any]) -> str:
    return ", ".join(x for x in (e["name"], e["country"], e["url"], e["note"]) if x)


# --- settings and seeding --------------------------------------------------------------


@privacy_app.command("settings")
def settings_command(as_json: bool = JsonOption, config: Path | None = ConfigOption) -> None:
    """Where this deployment keeps its data, and the policy in force."""
    with _runtime(config) as rt:
        region = rt.registers.regions.regions[rt.registers.region]
        data = {
            "region": region.code,
            "region_name": region.name,
            "law": region.law,
            "policy": rt.policy.name,
            "policy_version": rt.policy.version,
        }
    _print(data, as_json, lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))


@privacy_app.command("seed")
def seed_command(as_json: bool = JsonOption, config: Path | None = ConfigOption) -> None:
    """Register the sub-processors the policy's notice names (those not registered yet)."""
    with _runtime(config) as rt:
        added = rt.registers.seed(rt.policy)
        policy = rt.policy.name
    if as_json:
        _print(added, True, _subprocessor_line)
        return
    typer.echo(f"policy {policy!r}: {len(added)} sub-processor(s) registered")
    for entry in added:
        typer.echo(f"  {_subprocessor_line(entry)}")


# --- sub-processors ----------------------------------------------------------------------


@subprocessor_app.command("add")
def subprocessor_add(
    name: str = typer.Option(..., help="Who: 'Amazon Web Services'."),
    service: str = typer.Option(..., help="What they do for us: hosting, database, PaaS ..."),
    region: str = typer.Option(..., help="Where the data goes: eu, uk, us, ... (regions)."),
    safeguard: str | None = typer.Option(
        None,
        help="For a region outside the deployment's: scc, adequacy, bcr, code_of_conduct, "
        "certification.",
    ),
    applies_to: str = typer.Option(
        "all", help="Whose data: controller (ours), processor (accounts'), all."
    ),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Register a sub-processor; one abroad needs a transfer safeguard."""
    values = {
        "name": name,
        "service": service,
        "region": region,
        "safeguard": safeguard,
        "applies_to": applies_to,
    }
    with _runtime(config) as rt:
        entry = rt.registers.add_subprocessor(values)
    _print(entry, as_json, _subprocessor_line)


@subprocessor_app.command("list")
def subprocessor_list(as_json: bool = JsonOption, config: Path | None = ConfigOption) -> None:
    """List the sub-processors."""
    with _runtime(config) as rt:
        entries = rt.registers.entries("subprocessors")
    _print(entries, as_json, _subprocessor_line)


@subprocessor_app.command("remove")
def subprocessor_remove(
    entry_id: str = typer.Argument(..., help="The id (spr_...)."),
    config: Path | None = ConfigOption,
) -> None:
    """Remove a sub-processor from the register."""
    with _runtime(config) as rt:
        rt.registers.remove("subprocessors", entry_id)
    typer.echo(f"removed {entry_id}")


# --- recipients ----------------------------------------------------------------------------


@recipient_app.command("add")
def recipient_add(
    name: str = typer.Option(..., help="The category: 'Couriers', 'Tax authorities'."),
    purpose: str | None = typer.Option(None, help="Why they receive data."),
    region: str | None = typer.Option(None, help="Where they are, when it matters: eu, us ..."),
    safeguard: str | None = typer.Option(None, help="For a region outside the deployment's."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Register a category of recipients."""
    values = {"name": name, "purpose": purpose, "region": region, "safeguard": safeguard}
    with _runtime(config) as rt:
        entry = rt.registers.add_recipient(values)
    _print(entry, as_json, _recipient_line)


@recipient_app.command("list")
def recipient_list(as_json: bool = JsonOption, config: Path | None = ConfigOption) -> None:
    """List the recipient categories."""
    with _runtime(config) as rt:
        entries = rt.registers.entries("recipients")
    _print(entries, as_json, _recipient_line)


@recipient_app.command("remove")
def recipient_remove(
    entry_id: str = typer.Argument(..., help="The id (rcp_...)."),
    config: Path | None = ConfigOption,
) -> None:
    """Remove a recipient category."""
    with _runtime(config) as rt:
        rt.registers.remove("recipients", entry_id)
    typer.echo(f"removed {entry_id}")


# --- contacts --------------------------------------------------------------------------------


@contact_app.command("add")
def contact_add(
    kind: str = typer.Option(..., help="dpo, privacy_contact or representative."),
    name: str = typer.Option(..., help="Name (a person or a team)."),
    email: str | None = typer.Option(None, help="Email address."),
    phone: str | None = typer.Option(None, help="Phone number."),
    address: str | None = typer.Option(None, help="Postal address."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Register the DPO, the privacy contact or the representative."""
    values = {"kind": kind, "name": name, "email": email, "phone": phone, "address": address}
    with _runtime(config) as rt:
        entry = rt.registers.add_contact(values)
    _print(entry, as_json, _contact_line)


@contact_app.command("list")
def contact_list(as_json: bool = JsonOption, config: Path | None = ConfigOption) -> None:
    """List the privacy contacts."""
    with _runtime(config) as rt:
        entries = rt.registers.entries("contacts")
    _print(entries, as_json, _contact_line)


@contact_app.command("remove")
def contact_remove(
    entry_id: str = typer.Argument(..., help="The id (pct_...)."),
    config: Path | None = ConfigOption,
) -> None:
    """Remove a contact."""
    with _runtime(config) as rt:
        rt.registers.remove("contacts", entry_id)
    typer.echo(f"removed {entry_id}")


# --- the supervisory authority ------------------------------------------------------------


@authority_app.command("set")
def authority_set(
    name: str = typer.Option(..., help="'Commission for Personal Data Protection'."),
    country: str | None = typer.Option(None, help="Country."),
    url: str | None = typer.Option(None, help="Web site."),
    note: str | None = typer.Option(None, help="A sentence shown after it in the notice."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Set (or replace) the supervisory authority."""
    values = {"name": name, "country": country, "url": url, "note": note}
    with _runtime(config) as rt:
        entry = rt.registers.set_authority(values)
    _print(entry, as_json, _authority_line)


@authority_app.command("show")
def authority_show(as_json: bool = JsonOption, config: Path | None = ConfigOption) -> None:
    """Show the supervisory authority."""
    with _runtime(config) as rt:
        entry = rt.registers.authority()
    _print(entry, as_json, _authority_line)


@authority_app.command("clear")
def authority_clear(config: Path | None = ConfigOption) -> None:
    """Clear the supervisory authority (the policy's, if any, applies again)."""
    with _runtime(config) as rt:
        rt.registers.clear_authority()
    typer.echo("cleared the supervisory authority")


# --- the data map and the record of processing --------------------------------------------


@privacy_app.command("ropa")
def ropa_command(
    fmt: str = typer.Option("md", "--format", help="json, csv or md."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the record here instead of printing it."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """The record of processing activities (GDPR Art. 30(1) and 30(2)), generated."""
    with _runtime(config) as rt:
        record = build_ropa(
            rt.policy,
            rt.registers.snapshot(),
            metadata,
            rt.accounts.list_accounts(),
            rt.clock.now(),
        )
        text, _ = render(record, fmt)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, "utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output}")


@privacy_app.command("datamap")
def datamap_command(config: Path | None = ConfigOption) -> None:
    """The data map as JSON: every table, its columns, their classification and retention."""
    with _runtime(config) as rt:
        effective = with_registers(rt.policy, rt.registers.snapshot())
    view = describe(build_data_map(metadata), effective, load_taxonomy())
    sys.stdout.write(json.dumps(view, indent=2) + "\n")
