"""The `tidings` command."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import make_url

from tidings.cli.billing import billing_app
from tidings.cli.contacts import contacts_app, lists_app
from tidings.cli.holds import hold_app
from tidings.cli.policy import policy_app
from tidings.cli.privacy import privacy_app
from tidings.cli.retention import retention_app
from tidings.cli.smpp import smpp_app
from tidings.core.config import Settings, load_settings
from tidings.core.errors import TidingsError
from tidings.core.gc_pauses import collect_young_less_often, freeze_survivors, keep_freezing
from tidings.runtime import Runtime, build_runtime
from tidings.smpp_server.credentials import CredentialService

app = typer.Typer(
    help="Tidings: business messaging with data protection built in.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys of an account.", no_args_is_help=True)
user_app = typer.Typer(help="Users who sign in to an account.", no_args_is_help=True)
number_app = typer.Typer(help="Numbers and sender ids an account owns.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(account_app, name="account")
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")
app.add_typer(number_app, name="number")
app.add_typer(policy_app, name="policy")
app.add_typer(privacy_app, name="privacy")
app.add_typer(hold_app, name="hold")
app.add_typer(smpp_app, name="smpp")
app.add_typer(retention_app, name="retention")
app.add_typer(contacts_app, name="contacts")
app.add_typer(lists_app, name="lists")
app.add_typer(billing_app, name="billing")

# No markup: names, numbers and error details are data, and "[server]" is not a style.
out = Console(markup=False)
err = Console(stderr=True, markup=False)
ConfigOption = typer.Option(
    None, "--config", help="TOML file with connectors and routes.", dir_okay=False
)
DEMO_STATE = "demo-account.json"


def fail(message: str, code: int = 2) -> None:
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    raise typer.Exit(code)


def settings_from(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except TidingsError as exc:
        fail(exc.detail)
        raise  # unreachable: fail() exits


def safe_url(url: str) -> str:
    """A database URL fit to print: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url if "@" not in url else "<database URL>"


def open_runtime(config: Path | None) -> Runtime:
    settings = settings_from(config)
    try:
        return build_runtime(settings)
    except TidingsError as exc:
        fail(exc.detail)
        raise
    except Exception as exc:  # a database that is down, a path that is not writable
        url = safe_url(settings.database_url)
        fail(f"cannot open the database {url!r}: {str(exc).replace(settings.database_url, url)}")
        raise


def emit(data: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        for key, value in data.items():
            out.print(Text.assemble((str(key), "bold"), ": ", str(value)), highlight=False)


def every_page(fetch: Callable[[str | None], dict[str, Any]]) -> list[dict[str, Any]]:
    """Every entry of a cursor-paged listing: `fetch(cursor)` returns one page
    (`data`, `next_cursor`)."""
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        entries += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


class _CliErrors:
    """Turn user errors inside a command into a clean message and exit code 2."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, _tb: Any) -> None:
        if isinstance(exc, TidingsError):
            fail(exc.detail)


# --- serve ----------------------------------------------------------------------


def _serve(
    rt: Runtime,
    host: str,
    port: int,
    banner: list[str],
    run_workers: bool = True,
    smpp_port: int = 0,
    reuse_port: bool = False,
) -> None:
    from tidings.api.app import create_app
    from tidings.core.logging import configure_logging

    configure_logging(json=True)
    application = create_app(rt, run_workers=run_workers)
    for line in banner:
        out.print(line, highlight=False, soft_wrap=True)
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
            forwarded_allow_ips=list(rt.settings.forwarded_allow_ips),
        )
    )

    async def run() -> None:
        sockets = [_shared_socket(host, port)] if reuse_port else None
        smpp = rt.smpp_server() if smpp_port else None
        if smpp is not None:
            try:
                await smpp.start(host, smpp_port)
            except OSError as exc:
                fail(f"cannot listen for SMPP on {host}:{smpp_port}: {exc.strerror or exc}")
        rt.db.checkpoint_in_background()
        collect_young_less_often()
        freeze_survivors()
        freezer = asyncio.create_task(keep_freezing(), name="gc-freeze")
        try:
            await server.serve(sockets=sockets)
        finally:
            freezer.cancel()
            if smpp is not None:
                await smpp.stop()

    try:
        # The loop uvicorn itself would pick (uvloop when installed, as with uvicorn[standard]);
        # asyncio.run would always give the default loop, which costs more per request.
        with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
            runner.run(run())
    finally:
        rt.close()


def _shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket other processes may bind too (SO_REUSEPORT): the kernel spreads
    new connections over them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Role(StrEnum):
    all = "all"
    api = "api"
    worker = "worker"


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="HTTP port."),
    config: Path | None = ConfigOption,
    smpp_port: int = typer.Option(
        2775, "--smpp-port", help="Port for SMPP binds of accounts (0: no SMPP server)."
    ),
    role: Role = typer.Option(
        Role.all,
        help="all: API, pipeline and connectors in one process. api: only the HTTP API. "
        "worker: only the pipeline and connectors (no HTTP). Run one worker per SQLite file.",
    ),
    reuse_port: bool = typer.Option(
        False,
        "--reuse-port",
        help="Share --port with other processes started with it (API processes on one "
        "host; the kernel spreads connections over them).",
    ),
) -> None:
    """Run the API, the pipeline workers and the connectors (in one process by default)."""
    rt = open_runtime(config)
    where = safe_url(rt.settings.database_url)
    if role is Role.worker:
        _work(
            rt,
            f"Tidings worker is running (database: {where}; connectors: "
            f"{', '.join(rt.connectors)})",
        )
        return
    url = f"http://{host}:{port}"
    parts = "API only" if role is Role.api else f"connectors: {', '.join(rt.connectors)}"
    smpp = f"; SMPP on {host}:{smpp_port}" if smpp_port else ""
    _serve(
        rt,
        host,
        port,
        [f"Tidings is running at {url}  (database: {where}; {parts}{smpp})"],
        run_workers=role is Role.all,
        smpp_port=smpp_port,
        reuse_port=reuse_port,
    )


def _work(rt: Runtime, banner: str) -> None:
    """The pipeline and connectors without HTTP, until SIGTERM or SIGINT."""
    from tidings.core.logging import configure_logging

    configure_logging(json=True)
    out.print(banner, highlight=False, soft_wrap=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await rt.start_workers()
        rt.db.checkpoint_in_background()
        collect_young_less_often()
        freeze_survivors()
        freezer = asyncio.create_task(keep_freezing(), name="gc-freeze")
        try:
            await stop.wait()
        finally:
            freezer.cancel()
            await rt.stop_workers()

    try:
        asyncio.run(run())
    finally:
        rt.close()


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="HTTP port."),
    smpp_port: int = typer.Option(
        2775, "--smpp-port", help="Port for SMPP binds of accounts (0: no SMPP server)."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """`serve` plus a demo account, a fresh API key and a ready-to-paste curl."""
    rt = open_runtime(config)
    state_file = rt.settings.data_dir / DEMO_STATE
    account_id = None
    if state_file.exists():
        account_id = json.loads(state_file.read_text()).get("account_id")
    with _CliErrors():
        if account_id is None:
            account_id = rt.accounts.create_account("Demo account")["account_id"]
            rt.numbers.add(account_id, "+14155550100")
            state_file.write_text(json.dumps({"account_id": account_id}))
        key = rt.accounts.create_api_key(
            account_id, "demo", ["messages:send", "messages:read", "admin"]
        )["api_key"]
        smpp_login = CredentialService(rt.db, rt.clock).create(account_id) if smpp_port else None
    url = f"http://{host}:{port}"
    body = json.dumps({"to": "+31612345678", "from": "Tidings", "body": "Hello from Tidings!"})
    auth = f"Authorization: Bearer {key}"
    banner = [
        f"Tidings demo is running at {url}  (docs: {url}/docs)",
        f"Demo account: {account_id}  (its number for inbound tests: +14155550100)",
        f"API key (shown once): {key}",
        "",
        "Send a message:",
        f"  curl -s {url}/v1/messages -H {shlex.quote(auth)} "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}",
        'Read it back (it shows "delivered" a moment later):',
        f"  curl -s {url}/v1/messages -H {shlex.quote(auth)}",
        "",
        f"Or: export TIDINGS_URL={url} TIDINGS_API_KEY={key}; "
        "tidings send --to +31612345678 --from Tidings --body Hi",
    ]
    if smpp_login is not None:
        banner += [
            "",
            f"SMPP: bind to {host}:{smpp_port} with system_id {smpp_login['system_id']} "
            f"and password {smpp_login['password']} (shown once)",
        ]
    _serve(rt, host, port, banner, smpp_port=smpp_port)


# --- db -------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(config: Path | None = ConfigOption) -> None:
    """Apply the database migrations (serve does this at start too)."""
    rt = open_runtime(config)
    rt.close()
    out.print("database is at the latest schema")


# --- accounts ----------------------------------------------------------------------


@account_app.command("create")
def account_create(
    name: str = typer.Option(..., help="The account's (business) name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Create an account and print its id and an API key (shown once)."""
    rt = open_runtime(config)
    with _CliErrors():
        account = rt.accounts.create_account(name)
        key = rt.accounts.create_api_key(
            account["account_id"], "default", ["messages:send", "messages:read", "admin"]
        )
    rt.close()
    emit({"account_id": account["account_id"], "api_key": key["api_key"]}, as_json)


@account_app.command("list")
def account_list(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """List accounts."""
    rt = open_runtime(config)
    accounts = rt.accounts.list_accounts()
    rt.close()
    if as_json:
        sys.stdout.write(json.dumps(accounts, indent=2) + "\n")
        return
    for account in accounts:
        out.print(f"{account['id']}  {account['status']:<8} {account['name']}", highlight=False)


@account_app.command("close")
def account_close(
    account_id: str = typer.Argument(..., help="The account id (acc_...)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Close an account: revoke its API keys and SMPP credentials; its retention starts."""
    rt = open_runtime(config)
    try:
        with _CliErrors():
            result = rt.accounts.close_account(account_id)
    finally:
        rt.close()
    emit(result, as_json)


@account_app.command("webhook")
def account_webhook(
    account: str = typer.Option(..., "--account", help="Account id."),
    url: str = typer.Option(..., help="Default webhook URL ('' to clear)."),
    config: Path | None = ConfigOption,
) -> None:
    """Set an account's default webhook URL and show its signing secret."""
    rt = open_runtime(config)
    with _CliErrors():
        result = rt.accounts.set_webhook(account, url or None)
    rt.close()
    emit(result, False)


# --- API keys --------------------------------------------------------------------


@apikey_app.command("create")
def apikey_create(
    account: str = typer.Option(..., "--account", help="Account id."),
    name: str = typer.Option("default", help="A label for the key."),
    scope: list[str] = typer.Option(
        None,
        "--scope",
        help="messages:send, messages:read, admin, operator (the deployment's operator); "
        "repeat for several.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """Create an API key; the key is printed once."""
    rt = open_runtime(config)
    with _CliErrors():
        key = rt.accounts.create_api_key(account, name, scope or None, allow_operator=True)
    rt.close()
    emit(key, as_json)


@apikey_app.command("list")
def apikey_list(
    account: str = typer.Option(..., "--account", help="Account id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """List an account's API keys."""
    rt = open_runtime(config)
    keys = rt.accounts.list_api_keys(account)
    rt.close()
    if as_json:
        sys.stdout.write(json.dumps(keys, indent=2) + "\n")
        return
    for key in keys:
        state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "active"
        out.print(
            f"{key['id']}  {key['prefix']}  {key['name']}  {' '.join(key['scopes'])}  {state}",
            highlight=False,
        )


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str = typer.Argument(..., help="The key id (key_...)."),
    account: str = typer.Option(..., "--account", help="Account id."),
    config: Path | None = ConfigOption,
) -> None:
    """Revoke an API key at once."""
    rt = open_runtime(config)
    with _CliErrors():
        rt.accounts.revoke_api_key(account, key_id)
    rt.close()
    out.print(f"revoked {key_id}")


# --- users and numbers -------------------------------------------------------------


@user_app.command("create")
def user_create(
    account: str = typer.Option(..., "--account", help="Account id."),
    email: str = typer.Option(..., help="Sign-in email."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin."
    ),
    marketing_opt_in: bool = typer.Option(
        False,
        "--marketing-opt-in",
        help="The user ticked the box to receive the operator's marketing (default: off).",
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Create a user (password hashed with argon2id)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    rt = open_runtime(config)
    with _CliErrors():
        user = rt.accounts.create_user(account, email, password)
        if marketing_opt_in:
            rt.user_marketing.set(user["id"], account, True, source="console")
        user["marketing_opt_in"] = marketing_opt_in
    rt.close()
    emit(user, False)


@user_app.command("marketing")
def user_marketing(
    email: str = typer.Option(..., help="The user's sign-in email."),
    opt_in: bool | None = typer.Option(
        None,
        "--opt-in/--withdraw",
        help="Record the user's opt-in to the operator's marketing, or its withdrawal; "
        "without either, show the current choice and its history.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOption,
) -> None:
    """A user's choice about the operator's own marketing (recorded as a consent event)."""
    rt = open_runtime(config)
    with _CliErrors():
        user = rt.user_marketing.require_user(rt.accounts.find_user(email), email)
        if opt_in is None:
            state = rt.user_marketing.state(user["id"], user["account_id"])
        else:
            state = rt.user_marketing.set(user["id"], user["account_id"], opt_in, source="console")
    rt.close()
    if as_json:
        sys.stdout.write(json.dumps(state, indent=2) + "\n")
        return
    out.print(
        f"{email}: {'opted in' if state['opted_in'] else 'not opted in'}"
        + (f" since {state['since']}" if state["since"] else ""),
        highlight=False,
    )
    for event in state["history"]:
        out.print(f"  {event['occurred_at']}  {event['action']}  ({event['source']})")


@number_app.command("add")
def number_add(
    number: str = typer.Argument(..., help="E.164 number or sender id."),
    account: str = typer.Option(..., "--account", help="Account id."),
    channel: str = typer.Option("sms", help="Channel."),
    config: Path | None = ConfigOption,
) -> None:
    """Register a number an account owns; inbound messages to it go to that account."""
    rt = open_runtime(config)
    with _CliErrors():
        result = rt.numbers.add(account, number, channel)
    rt.close()
    emit(result, False)


@number_app.command("list")
def number_list(
    account: str = typer.Option(..., "--account", help="Account id."),
    config: Path | None = ConfigOption,
) -> None:
    """List an account's numbers."""
    rt = open_runtime(config)
    numbers = rt.numbers.list(account)
    rt.close()
    for item in numbers:
        out.print(f"{item['id']}  {item['channel']}  {item['number']}", highlight=False)


# --- send ---------------------------------------------------------------------------


@app.command()
def send(
    to: str = typer.Option(..., help="Recipient, E.164 (+31612345678)."),
    sender: str = typer.Option(..., "--from", help="Sender number or alphanumeric id."),
    body: str = typer.Option(..., help="Message text."),
    channel: str = typer.Option("sms", help="Channel."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole resource."),
) -> None:
    """Send a message through a running Tidings (TIDINGS_URL, TIDINGS_API_KEY)."""
    url = os.environ.get("TIDINGS_URL", "http://127.0.0.1:8000").rstrip("/")
    key = os.environ.get("TIDINGS_API_KEY")
    if not key:
        fail("set TIDINGS_API_KEY to an API key (tidings account create prints one)")
    try:
        response = httpx.post(
            f"{url}/v1/messages",
            timeout=30,
            headers={"Authorization": f"Bearer {key}"},
            json={"to": to, "from": sender, "body": body, "channel": channel},
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach Tidings at {url}: {exc}. Is `tidings serve` running?")
        return
    data = response.json() if response.content else {}
    if response.status_code >= 400:
        fail(f"{data.get('code', response.status_code)}: {data.get('detail', response.text)}")
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        out.print(
            f"{data['id']}  {data['status']}  {data['segments']} segment(s), {data['encoding']}",
            highlight=False,
        )


def main() -> None:
    app()
