"""The composition root: builds every configured component. Only this module knows them all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from tidings.accounts.numbers import NumberService
from tidings.accounts.service import AccountService
from tidings.channels.base import Connector
from tidings.channels.simulator.connector import (
    SimulatorConfigError,
    SimulatorConnector,
    SimulatorRules,
)
from tidings.consent.service import ConsentService
from tidings.consent.users import UserMarketing
from tidings.contacts.fields import FieldService
from tidings.contacts.imports import ImportService
from tidings.contacts.lists import ListService
from tidings.contacts.service import ContactService
from tidings.core.clock import Clock, SystemClock
from tidings.core.config import ConnectorConfig, Settings
from tidings.core.crypto import Crypto, load_or_create_master_key
from tidings.core.errors import ConfigError
from tidings.core.ids import new_id
from tidings.domain.policy import Policy
from tidings.pipeline.accept import AcceptService
from tidings.pipeline.consent_gate import ConsentGate
from tidings.pipeline.dispatcher import ConnectorSlot, Dispatcher
from tidings.pipeline.events import EventRecorder
from tidings.pipeline.keywords import KeywordHandler
from tidings.pipeline.metrics import Metrics
from tidings.pipeline.opt_out import OptOuts
from tidings.pipeline.queries import MessageQueries
from tidings.pipeline.routing import Router
from tidings.pipeline.transitions import StatusWriter
from tidings.pipeline.webhooks import WebhookSender
from tidings.privacy.policy import check as check_policy
from tidings.privacy.policy import load_configured_policy
from tidings.store import accounts as account_store
from tidings.store import messages as message_store
from tidings.store.database import Database
from tidings.store.migrate import upgrade
from tidings.store.tables import metadata

log = logging.getLogger("tidings")


def build_connector(config: ConnectorConfig, data_dir: Path, clock: Clock) -> Connector:
    if config.type == "simulator":
        try:
            rules = SimulatorRules.from_options(config.name, config.options)
        except SimulatorConfigError as exc:
            raise ConfigError(str(exc)) from exc
        journal_option = config.options.get("journal", True)
        journal: Path | None
        if journal_option is True:
            journal = data_dir / "simulator" / f"{config.name}.journal"
        elif journal_option is False:
            journal = None
        elif isinstance(journal_option, str):
            journal = Path(journal_option)
        else:
            raise ConfigError(
                f"connector {config.name!r}: 'journal' must be true, false or a file path"
            )
        return SimulatorConnector(config.name, rules, journal, clock.now)
    raise ConfigError(f"connector {config.name!r}: unknown type {config.type!r}")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    crypto: Crypto
    metrics: Metrics
    accounts: AccountService
    numbers: NumberService
    accept: AcceptService
    queries: MessageQueries
    writer: StatusWriter
    events: EventRecorder
    dispatcher: Dispatcher
    webhooks: WebhookSender
    connectors: dict[str, Connector]
    policy: Policy
    consent: ConsentService
    user_marketing: UserMarketing
    contacts: ContactService
    lists: ListService
    contact_fields: FieldService
    imports: ImportService
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start_workers(self) -> None:
        """Connect connectors and run dispatch, event recording and webhook delivery."""
        for connector in self.connectors.values():
            await connector.start(self.events)
        self._tasks = [
            asyncio.create_task(self.dispatcher.run(), name="dispatcher"),
            asyncio.create_task(self.events.run(), name="events"),
            asyncio.create_task(self.webhooks.run(), name="webhooks"),
        ]
        if self.db.is_sqlite:  # one node owns the file: no other worker holds an import
            self.imports.release_all()
        self.imports.start()

    async def stop_workers(self) -> None:
        await asyncio.to_thread(self.imports.stop)  # a running import stops between batches
        await self.accept.close()
        await self.dispatcher.stop()
        await self.events.drain()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for connector in self.connectors.values():
            await connector.stop()
        await self.webhooks.close()

    def refresh_queue_depth(self) -> None:
        with self.db.read() as conn:
            self.metrics.queue_depth.set(message_store.queue_depth(conn))

    def close(self) -> None:
        self.db.dispose()


def policy_in_force(settings: Settings) -> Policy:
    """The configured policy, refused at start when it does not govern the data map."""
    policy = load_configured_policy(settings)
    problems = check_policy(policy, metadata)
    if problems:
        listed = "\n  ".join(str(p) for p in problems)
        raise ConfigError(
            f"the privacy policy {policy.name!r} cannot run this installation:\n  {listed}"
        )
    return policy


def build_runtime(
    settings: Settings, clock: Clock | None = None, *, migrate: bool = True
) -> Runtime:
    clock = clock or SystemClock()
    policy = policy_in_force(settings)
    db = Database(settings.database_url)
    if migrate:
        upgrade(db)
    master = load_or_create_master_key(settings.master_key_env, settings.data_dir)

    def load_wrapped(key_id: str) -> bytes | None:
        with db.read() as conn:
            return account_store.wrapped_key(conn, key_id)

    def active_key(account_id: str) -> str | None:
        with db.read() as conn:
            return account_store.active_account_key_id(conn, account_id)

    crypto = Crypto(master, load_wrapped, active_key)
    metrics = Metrics()
    writer = StatusWriter(crypto, metrics, skip_locked=not db.is_sqlite)
    queries = MessageQueries(db, crypto, clock, writer)
    connectors = {c.name: build_connector(c, settings.data_dir, clock) for c in settings.connectors}
    slots = {
        c.name: ConnectorSlot(connectors[c.name], c.tps, c.window) for c in settings.connectors
    }
    owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('req', clock.now())[-8:]}"
    dispatcher = Dispatcher(
        db, crypto, clock, metrics, writer, Router(settings.routes), slots, settings, owner
    )
    gate = ConsentGate(db)
    opt_outs = OptOuts(crypto, writer, f"{policy.name}@{policy.version}")
    accept = AcceptService(
        db,
        crypto,
        clock,
        metrics,
        max_segments=settings.max_segments,
        max_batch=settings.max_batch,
        load=queries.get,
        gate=gate,
        on_accepted=dispatcher.wake,
    )
    contacts = ContactService(db, crypto, clock)
    lists = ListService(db, clock)
    imports = ImportService(db, contacts.codec, clock, lists, settings.data_dir / "imports", owner)
    return Runtime(
        settings=settings,
        clock=clock,
        db=db,
        crypto=crypto,
        metrics=metrics,
        accounts=AccountService(db, crypto, clock),
        numbers=NumberService(db, crypto, clock),
        accept=accept,
        queries=queries,
        writer=writer,
        events=EventRecorder(
            db,
            crypto,
            clock,
            metrics,
            writer,
            keywords=KeywordHandler(crypto, opt_outs, accept.prepare, dispatcher.wake),
        ),
        dispatcher=dispatcher,
        webhooks=WebhookSender(
            db,
            crypto,
            clock,
            metrics,
            timeout_seconds=settings.webhook_timeout_seconds,
            max_age_seconds=settings.webhook_max_age_seconds,
        ),
        connectors=connectors,
        policy=policy,
        consent=ConsentService(db, crypto, clock, opt_outs, gate, settings.public_url),
        user_marketing=UserMarketing(db, crypto, clock, opt_outs.policy_version),
        contacts=contacts,
        lists=lists,
        contact_fields=FieldService(db, clock),
        imports=imports,
    )
