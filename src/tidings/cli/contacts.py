"""`tidings contacts ...` and `tidings lists ...`: an account's phonebook from the server."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from tidings.contacts.exporter import FORMATS, export
from tidings.contacts.prepare import fewer_collections
from tidings.core.crypto import KeyUnavailable
from tidings.core.errors import TidingsError
from tidings.runtime import Runtime

contacts_app = typer.Typer(help="Contacts of an account (its phonebook).", no_args_is_help=True)
fields_app = typer.Typer(help="Custom contact fields of an account.", no_args_is_help=True)
lists_app = typer.Typer(help="Lists (groups) of an account's contacts.", no_args_is_help=True)
contacts_app.add_typer(fields_app, name="fields")

# No markup: names, numbers and error details are data, and "[server]" is not a style.
out = Console(markup=False)
err = Console(stderr=True, markup=False)
AccountOption = typer.Option(..., "--account", help="Account id (acc_...).")
ConfigOption = typer.Option(
    None, "--config", help="TOML file with connectors and routes.", dir_okay=False
)
JsonOption = typer.Option(False, "--json", help="Print JSON.")


def fail(message: str) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    raise typer.Exit(2)


class Session:
    """The runtime for one command; a user error inside becomes a one-line message, exit 2."""

    def __init__(self, config: Path | None) -> None:
        from tidings.cli.main import open_runtime  # main registers this module's apps

        self.rt: Runtime = open_runtime(config)

    def __enter__(self) -> Runtime:
        return self.rt

    def __exit__(self, kind: Any, exc: Any, _tb: Any) -> None:
        self.rt.close()
        if isinstance(exc, TidingsError):
            fail(exc.detail)
        if isinstance(exc, KeyUnavailable):
            fail("no such account (or its data key is destroyed); check --account")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def pairs(values: list[str] | None, option: str) -> dict[str, str]:
    """KEY=VALUE options into a dict."""
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"{option} takes KEY=VALUE, like {option} tier=gold (got {item[:60]!r})")
        result[key.strip()] = value
    return result


def contact_line(contact: dict[str, Any]) -> str:
    name = " ".join(n for n in (contact["first_name"], contact["last_name"]) if n)
    tags = f"  [{', '.join(contact['tags'])}]" if contact["tags"] else ""
    return f"{contact['id']}  {contact['number']}  {contact['region'] or '-'}  {name}{tags}"


def show_contact(contact: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(contact)
        return
    for key, value in contact.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        out.print(
            Text.assemble((str(key), "bold"), ": ", "" if value is None else str(value)),
            highlight=False,
        )


# --- contacts -----------------------------------------------------------------------------


@contacts_app.command("add")
def contacts_add(
    number: str = typer.Argument(..., help="Phone number, E.164 (+31612345678)."),
    account: str = AccountOption,
    first_name: str | None = typer.Option(None, "--first-name"),
    last_name: str | None = typer.Option(None, "--last-name"),
    email: str | None = typer.Option(None, "--email"),
    language: str | None = typer.Option(None, "--language", help="Like en, nl, pt-BR."),
    tag: list[str] = typer.Option(None, "--tag", help="A tag; repeat for several."),
    field: list[str] = typer.Option(None, "--field", help="A custom field: KEY=VALUE."),
    list_name: str | None = typer.Option(None, "--list", help="Add the contact to this list."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Add a contact."""
    values: dict[str, Any] = {"number": number}
    for key, value in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("email", email),
        ("language", language),
    ):
        if value is not None:
            values[key] = value
    if tag:
        values["tags"] = tag
    if field:
        values["fields"] = pairs(field, "--field")
    with Session(config) as rt:
        target = rt.lists.by_name(account, list_name) if list_name else None
        contact = rt.contacts.create(account, values)
        if target is not None:
            rt.lists.add(account, target["id"], [contact["id"]])
            contact = rt.contacts.get(account, contact["id"])
    show_contact(contact, as_json)


@contacts_app.command("list")
def contacts_list(
    account: str = AccountOption,
    tag: str | None = typer.Option(None, "--tag"),
    list_name: str | None = typer.Option(None, "--list", help="Members of this list (name)."),
    region: str | None = typer.Option(None, "--region", help="Like NL."),
    field: str | None = typer.Option(None, "--field", help="A custom field value: KEY=VALUE."),
    limit: int = typer.Option(50, "--limit", help="At most this many (newest first)."),
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """List contacts, newest first."""
    match = next(iter(pairs([field], "--field").items())) if field else None
    with Session(config) as rt:
        list_id = rt.lists.by_name(account, list_name)["id"] if list_name else None
        where = rt.contacts.filter_for(
            account, tag=tag, list_id=list_id, region=region, field=match
        )
        page = rt.contacts.list(account, where, limit=limit)
    if as_json:
        print_json(page["data"])
        return
    for contact in page["data"]:
        out.print(contact_line(contact), highlight=False)


@contacts_app.command("show")
def contacts_show(
    contact: str = typer.Argument(..., help="A contact id (con_...) or phone number."),
    account: str = AccountOption,
    as_json: bool = JsonOption,
    config: Path | None = ConfigOption,
) -> None:
    """Show one contact, by id or by number."""
    with Session(config) as rt:
        if contact.startswith("con_"):
            found: dict[str, Any] | None = rt.contacts.get(account, contact)
        else:
            found = rt.contacts.get_by_number(account, contact)
    if found is None:
        fail("no contact with this number in this account")
        return
    show_contact(found, as_json)


@contacts_app.command("delete")
def contacts_delete(
    contact_id: str = typer.Argument(..., help="The contact id (con_...)."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Delete a contact (and its list memberships)."""
    with Session(config) as rt:
        rt.contacts.delete(account, contact_id)
    out.print(f"deleted {contact_id}", highlight=False)


# --- import -------------------------------------------------------------------------------


@contacts_app.command("import")
def contacts_import(
    file: Path | None = typer.Argument(
        None, help="A CSV or JSON-lines file.", exists=True, dir_okay=False, readable=True
    ),
    account: str = AccountOption,
    list_name: str | None = typer.Option(None, "--list", help="Add every contact to this list."),
    mapping: list[str] = typer.Option(
        None, "--map", help="column=field (column= skips it); repeat for several."
    ),
    fmt: str | None = typer.Option(None, "--format", help="csv or jsonl (default: from the name)."),
    resume: str | None = typer.Option(
        None, "--resume", help="Resume an interrupted import (imp_...) instead of a new one."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Import contacts; a number already in the account updates that contact."""
    if (file is None) == (resume is None):
        fail("give a FILE to import, or --resume IMPORT_ID to finish an interrupted one")
    with Session(config) as rt:
        if resume is not None:
            job = rt.imports.get(account, resume)
            if job["state"] in ("completed", "failed"):
                fail(f"import {resume} is already {job['state']}")
            out.print(
                f"resuming {resume} at line {job['next_line']:,} ({_counts(job)} so far)",
                highlight=False,
            )
            import_id = resume
        else:
            assert file is not None
            import_id, spool = rt.imports.new_upload()
            with file.open("rb") as source, spool.open("wb") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
            job = rt.imports.create(
                account,
                import_id,
                spool,
                filename=file.name,
                fmt=fmt,
                list_name=list_name,
                mapping=mapping or (),
            )
            out.print(f"{import_id}: {job['read_as']}", highlight=False)
        job = _run_with_progress(rt, import_id, job)
    _report(job)


def _run_with_progress(rt: Runtime, import_id: str, job: dict[str, Any]) -> dict[str, Any]:
    columns = (
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(
            "import", total=job["size_bytes"], completed=job["processed_bytes"], rows=""
        )

        def advance(state: dict[str, Any]) -> None:
            rows = state["rows"]
            bar.update(
                task,
                completed=state["processed_bytes"],
                rows=f"{rows['created']:,} new, {rows['updated']:,} updated, "
                f"{rows['failed']:,} refused",
            )

        rt.db.checkpoint_in_background()  # commits of the import never wait on one
        try:
            with fewer_collections():  # this process only imports, until it returns
                return rt.imports.run(import_id, advance)
        except KeyboardInterrupt:
            rt.imports.release(import_id)
            bar.stop()
            fail(
                f"interrupted; every row before the last committed batch is imported. "
                f"Resume with: tidings contacts import --resume {import_id} --account ..."
            )
            raise


def _counts(job: dict[str, Any]) -> str:
    rows = job["rows"]
    return f"{rows['created']:,} created, {rows['updated']:,} updated, {rows['failed']:,} refused"


def _report(job: dict[str, Any]) -> None:
    if job["state"] == "failed":
        fail(f"import {job['id']} failed: {job['error']}")
    resumed = f" (resumed {job['resumed']} time(s) after an interruption)" if job["resumed"] else ""
    out.print(f"{job['id']} {job['state']}: {_counts(job)}{resumed}", highlight=False)
    if job["errors"]:
        for error in job["errors"][:10]:
            column = f", column {error['column']!r}" if error["column"] else ""
            out.print(f"  line {error['line']}{column}: {error['reason']}", highlight=False)
        if job["rows"]["failed"] > 10:
            out.print(f"  ... {job['rows']['failed'] - 10:,} more", highlight=False)
        out.print(
            f"every refused row: tidings contacts import-errors {job['id']} --account ...",
            highlight=False,
        )


@contacts_app.command("export")
def contacts_export(
    account: str = AccountOption,
    list_name: str | None = typer.Option(None, "--list", help="Only this list's members."),
    tag: str | None = typer.Option(None, "--tag", help="Only contacts with this tag."),
    fmt: str = typer.Option("csv", "--format", help="csv, json or jsonl."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write to this file (default: standard output).",
        dir_okay=False,
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Export contacts, streamed; CSV cells are safe to open in a spreadsheet."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}")
    with Session(config) as rt:
        list_id = rt.lists.by_name(account, list_name)["id"] if list_name else None
        where = rt.contacts.filter_for(account, tag=tag, list_id=list_id)
        chunks = export(rt.contacts, rt.lists, rt.contact_fields, account, where, fmt)
        if output is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
        else:
            with output.open("wb") as target:
                for chunk in chunks:
                    target.write(chunk)
            err.print(f"wrote {output}", highlight=False)


@contacts_app.command("import-errors")
def contacts_import_errors(
    import_id: str = typer.Argument(..., help="The import (imp_...)."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Print every refused row of an import as CSV (line, column, reason)."""
    with Session(config) as rt:
        for chunk in rt.imports.errors_csv(account, import_id):
            sys.stdout.write(chunk)


# --- custom fields ------------------------------------------------------------------------


@fields_app.command("add")
def fields_add(
    key: str = typer.Argument(..., help="The field's key, like loyalty_tier."),
    field_type: str = typer.Argument(..., help="string, number, boolean, date or enum."),
    account: str = AccountOption,
    label: str | None = typer.Option(None, "--label"),
    option: list[str] = typer.Option(None, "--option", help="An enum value; repeat."),
    config: Path | None = ConfigOption,
) -> None:
    """Define a custom contact field."""
    with Session(config) as rt:
        created = rt.contact_fields.create(account, key, field_type, label, option or None)
    out.print(f"{created['id']}  {created['key']}  {created['type']}", highlight=False)


@fields_app.command("list")
def fields_list(
    account: str = AccountOption, as_json: bool = JsonOption, config: Path | None = ConfigOption
) -> None:
    """List the custom contact fields."""
    with Session(config) as rt:
        fields = rt.contact_fields.list(account)
    if as_json:
        print_json(fields)
        return
    for item in fields:
        options = f"  ({', '.join(item['options'])})" if item["options"] else ""
        out.print(f"{item['id']}  {item['key']}  {item['type']}{options}", highlight=False)


@fields_app.command("delete")
def fields_delete(
    field_id: str = typer.Argument(..., help="The field id (fld_...)."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Delete a custom contact field."""
    with Session(config) as rt:
        rt.contact_fields.delete(account, field_id)
    out.print(f"deleted {field_id}", highlight=False)


# --- lists --------------------------------------------------------------------------------


@lists_app.command("create")
def lists_create(
    name: str = typer.Argument(..., help="The list's name."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Create a list."""
    with Session(config) as rt:
        created = rt.lists.create(account, name)
    out.print(f"{created['id']}  {created['name']}", highlight=False)


@lists_app.command("list")
def lists_list(
    account: str = AccountOption, as_json: bool = JsonOption, config: Path | None = ConfigOption
) -> None:
    """List the lists with their member counts."""
    with Session(config) as rt:
        lists = rt.lists.list(account)
    if as_json:
        print_json(lists)
        return
    for item in lists:
        out.print(f"{item['id']}  {item['members']:>8}  {item['name']}", highlight=False)


@lists_app.command("rename")
def lists_rename(
    name: str = typer.Argument(..., help="The list's name now."),
    new_name: str = typer.Argument(..., help="Its new name."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Rename a list."""
    with Session(config) as rt:
        renamed = rt.lists.rename(account, rt.lists.by_name(account, name)["id"], new_name)
    out.print(f"{renamed['id']}  {renamed['name']}", highlight=False)


@lists_app.command("delete")
def lists_delete(
    name: str = typer.Argument(..., help="The list's name."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Delete a list (its contacts stay)."""
    with Session(config) as rt:
        rt.lists.delete(account, rt.lists.by_name(account, name)["id"])
    out.print(f"deleted list {name!r}", highlight=False)


@lists_app.command("add")
def lists_add(
    name: str = typer.Argument(..., help="The list's name."),
    contact_ids: list[str] = typer.Argument(..., help="Contact ids (con_...)."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Add contacts to a list."""
    with Session(config) as rt:
        result = rt.lists.add(account, rt.lists.by_name(account, name)["id"], contact_ids)
    out.print(f"added {result['added']}; {result['members']} members", highlight=False)


@lists_app.command("remove")
def lists_remove(
    name: str = typer.Argument(..., help="The list's name."),
    contact_ids: list[str] = typer.Argument(..., help="Contact ids (con_...)."),
    account: str = AccountOption,
    config: Path | None = ConfigOption,
) -> None:
    """Remove contacts from a list."""
    with Session(config) as rt:
        result = rt.lists.remove(account, rt.lists.by_name(account, name)["id"], contact_ids)
    out.print(f"removed {result['removed']}; {result['members']} members", highlight=False)
