"""The composition root: builds every configured component. Only this module knows them all."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tidings.accounts.numbers import NumberService
from tidings.accounts.service import AccountService
from tidings.billing.statements import StatementService, scheduled_issue
from tidings.channels.base import Connector
from tidings.channels.simulator.connector import (
    SimulatorConfigError,
    SimulatorConnector,
    SimulatorRules,
)
from tidings.channels.smpp_connector.connector import SmppConnector
from tidings.channels.smpp_connector.options import SmppOptions, SmppOptionsError
from tidings.consent.service import ConsentService
from tidings.consent.users import UserMarketing
from tidings.contacts.fields import FieldService
from tidings.contacts.imports import ImportService
from tidings.contacts.lists import ListService
from tidings.contacts.service import ContactService
from tidings.core.clock import Clock, SystemClock
from tidings.core.config import ConnectorConfig, Settings
from tidings.core.crypto import Crypto, load_or_create_master_key, private_file
from tidings.core.errors import ConfigError
from tidings.core.ids import new_id
from tidings.core.networks import parse_networks
from tidings.core.periodic import PeriodicJob
from tidings.domain.policy import Policy
from tidings.pipeline.accept import AcceptService
from tidings.pipeline.connector_metrics import ConnectorCollector
from tidings.pipeline.consent_gate import ConsentGate
from tidings.pipeline.dispatcher import ConnectorSlot, Dispatcher
from tidings.pipeline.events import EventRecorder
from tidings.pipeline.fleet import Fleet
from tidings.pipeline.keywords import KeywordHandler
from tidings.pipeline.metrics import Metrics
from tidings.pipeline.opt_out import OptOuts
from tidings.pipeline.queries import MessageQueries
from tidings.pipeline.routing import Router
from tidings.pipeline.transitions import StatusWriter
from tidings.pipeline.validity import ValiditySweeper
from tidings.pipeline.webhook_destinations import WebhookDestinations
from tidings.pipeline.webhooks import WebhookSender
from tidings.privacy.anonymise import Anonymiser
from tidings.privacy.authority_requests import AuthorityRequestService
from tidings.privacy.erasure import ErasureService
from tidings.privacy.holds import HoldService
from tidings.privacy.policy import check as check_policy
from tidings.privacy.policy import load_configured_policy
from tidings.privacy.registers import RegisterService
from tidings.privacy.retention import RetentionService, scheduled_sweep
from tidings.smpp_server.credentials import CredentialService
from tidings.smpp_server.limits import ServerLimits
from tidings.smpp_server.outbox import OutboxWriter
from tidings.smpp_server.server import SmppServer
from tidings.smpp_server.submit import SubmitHandler
from tidings.store import messages as message_store
from tidings.store.database import Database
from tidings.store.keys import KeyRing
from tidings.store.migrate import upgrade
from tidings.store.partitions import make_ahead, scheduled_months
from tidings.store.tables import metadata
from tidings.store.vault import KeyVault

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
    if config.type == "smpp":
        try:
            options = SmppOptions.from_options(
                config.name, config.options, tps=config.tps, window=config.window
            )
        except SmppOptionsError as exc:
            raise ConfigError(str(exc)) from exc
        return SmppConnector(config.name, options, clock.now)
    raise ConfigError(f"connector {config.name!r}: unknown type {config.type!r}")


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    crypto: Crypto
    key_ring: KeyRing
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
    registers: RegisterService
    consent: ConsentService
    user_marketing: UserMarketing
    contacts: ContactService
    lists: ListService
    contact_fields: FieldService
    holds: HoldService
    smpp_outbox: OutboxWriter
    retention: RetentionService
    fleet: Fleet
    validity: ValiditySweeper
    erasure: ErasureService
    anonymiser: Anonymiser
    imports: ImportService
    authority_requests: AuthorityRequestService
    statements: StatementService
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _sweeper: PeriodicJob | None = None
    _statement_worker: PeriodicJob | None = None
    _partition_maker: PeriodicJob | None = None
    _key_reaper: PeriodicJob | None = None

    async def start_workers(self) -> None:
        """Connect connectors and run dispatch, event recording and webhook delivery."""
        for connector in self.connectors.values():
            await connector.start(self.events)
        self.fleet.started(self.events)
        self._tasks = [
            asyncio.create_task(self.dispatcher.run(), name="dispatcher"),
            asyncio.create_task(self.events.run(), name="events"),
            asyncio.create_task(self.webhooks.run(), name="webhooks"),
            asyncio.create_task(self.validity.run(), name="validity"),
            asyncio.create_task(self.fleet.follow(), name="fleet"),
        ]
        if self.settings.retention_interval_seconds > 0:
            self._sweeper = PeriodicJob(
                "retention sweep",
                self.settings.retention_interval_seconds,
                scheduled_sweep(self.retention),
            )
            self._sweeper.start()
            self._key_reaper = PeriodicJob(
                "reaping unrecorded keys",
                self.settings.retention_interval_seconds,
                self._reap_keys,
            )
            self._key_reaper.start()
        if self.settings.billing.statement_interval_seconds > 0:
            self._statement_worker = PeriodicJob(
                "issuing statements",
                self.settings.billing.statement_interval_seconds,
                scheduled_issue(self.statements),
            )
            self._statement_worker.start()
        if not self.db.is_sqlite:
            self._partition_maker = PeriodicJob(
                "making message partitions", 86_400, scheduled_months(self.db, self.clock)
            )
            self._partition_maker.start()
        if self.db.is_sqlite:  # one node owns the file: no other worker holds an import
            self.imports.release_all()
        self.imports.start()

    def _reap_keys(self, _stopping: threading.Event) -> None:
        reaped = self.key_ring.reap_unrecorded(self.clock.now())
        if reaped:
            log.info("deleted %d keys from the vault that no transaction recorded", reaped)

    async def stop_workers(self) -> None:
        await asyncio.to_thread(self.imports.stop)  # a running import stops between batches
        await self.accept.close()
        await self.dispatcher.stop()
        await self.events.drain()
        if self._sweeper is not None:
            await self._sweeper.stop()  # a sweep under way stops after its current batch
            self._sweeper = None
        if self._key_reaper is not None:
            await self._key_reaper.stop()
            self._key_reaper = None
        if self._statement_worker is not None:
            await self._statement_worker.stop()
            self._statement_worker = None
        if self._partition_maker is not None:
            await self._partition_maker.stop()
            self._partition_maker = None
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
        self.erasure.vault.dispose()

    def smpp_server(self, limits: ServerLimits | None = None) -> SmppServer:
        """The SMPP server on this runtime's pipeline (start it inside the running loop)."""
        limits = limits or ServerLimits()
        return SmppServer(
            db=self.db,
            crypto=self.crypto,
            clock=self.clock,
            credentials=CredentialService(self.db, self.clock),
            submits=SubmitHandler(
                self.accept,
                self.clock,
                max_segments=self.settings.max_segments,
                reassembly_timeout=limits.reassembly_timeout,
            ),
            queries=self.queries,
            outbox=self.smpp_outbox,
            limits=limits,
        )


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
    registers = RegisterService(db, clock, settings.region)  # an unknown region stops here
    if migrate:
        upgrade(db)
        make_ahead(db, clock.now())
    master = load_or_create_master_key(settings.master_key_env, settings.data_dir)

    vault = KeyVault(
        settings.key_vault_url or f"sqlite:///{private_file(settings.data_dir, 'keys.db')}"
    )
    ring = KeyRing(db, vault)
    crypto = Crypto(
        master,
        ring.load,
        ring.active_account_key,
        load_wrapped_many=ring.load_many,
        find_subject_keys=ring.find_subjects,
        keep_wrapped=vault.put,
    )
    metrics = Metrics()
    writer = StatusWriter(crypto, metrics, skip_locked=not db.is_sqlite)
    queries = MessageQueries(db, crypto, clock, writer)
    connectors = {c.name: build_connector(c, settings.data_dir, clock) for c in settings.connectors}
    slots = {
        c.name: ConnectorSlot(connectors[c.name], c.tps, c.window) for c in settings.connectors
    }
    router = Router(settings.routes)
    owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('req', clock.now())[-8:]}"
    fleet = Fleet(
        db,
        clock,
        settings,
        lambda config: build_connector(config, settings.data_dir, clock),
        connectors,
        slots,
        router,
        node=owner,
    )
    gate = ConsentGate(db)
    opt_outs = OptOuts(crypto, writer, f"{policy.name}@{policy.version}")
    fleet.load()  # connectors and routes created through /v1/admin
    metrics.registry.register(
        ConnectorCollector(fleet.connector_states, lambda: not fleet.runs_connectors)
    )
    dispatcher = Dispatcher(db, crypto, clock, metrics, writer, router, slots, settings, owner)
    destinations = WebhookDestinations(parse_networks(settings.webhook_allowed_networks))
    accept = AcceptService(
        db,
        crypto,
        clock,
        metrics,
        destinations=destinations,
        max_segments=settings.max_segments,
        max_batch=settings.max_batch,
        load=queries.get,
        gate=gate,
        on_accepted=dispatcher.wake,
    )
    events = EventRecorder(
        db,
        crypto,
        clock,
        metrics,
        writer,
        keywords=KeywordHandler(crypto, opt_outs, accept.prepare, dispatcher.wake),
    )
    smpp_outbox = OutboxWriter(crypto)  # receipts and inbound owed to SMPP binds
    writer.observers.append(smpp_outbox.on_status)
    events.inbound_observers.append(smpp_outbox.on_inbound)
    anonymiser = Anonymiser(db, crypto, clock, vault)
    account_service = AccountService(db, crypto, clock, destinations)
    holds = HoldService(db, crypto, clock)
    contacts = ContactService(db, crypto, clock)
    lists = ListService(db, clock)
    imports = ImportService(
        db, contacts.codec, clock, lists, settings.data_dir / "imports", owner, opt_outs
    )
    return Runtime(
        settings=settings,
        clock=clock,
        db=db,
        crypto=crypto,
        key_ring=ring,
        metrics=metrics,
        accounts=account_service,
        numbers=NumberService(db, crypto, clock),
        accept=accept,
        queries=queries,
        writer=writer,
        events=events,
        dispatcher=dispatcher,
        webhooks=WebhookSender(
            db,
            crypto,
            clock,
            metrics,
            timeout_seconds=settings.webhook_timeout_seconds,
            max_age_seconds=settings.webhook_max_age_seconds,
            destinations=destinations,
            per_account=settings.webhook_concurrency_per_account,
        ),
        connectors=connectors,
        policy=policy,
        registers=registers,
        holds=holds,
        smpp_outbox=smpp_outbox,
        consent=ConsentService(db, crypto, clock, opt_outs, gate, settings.public_url),
        retention=RetentionService(
            db,
            clock,
            policy,
            metadata,
            anonymiser,
            batch_size=settings.retention_batch,
            workers=settings.retention_workers,
        ),
        fleet=fleet,
        validity=ValiditySweeper(db, clock, writer),
        erasure=ErasureService(
            db,
            crypto,
            clock,
            writer,
            policy,
            vault,
            holds=holds,
            on_account_closed=lambda _: account_service.forget_cached_principals(),
        ),
        anonymiser=anonymiser,
        user_marketing=UserMarketing(db, crypto, clock, opt_outs.policy_version),
        contacts=contacts,
        lists=lists,
        contact_fields=FieldService(db, clock),
        imports=imports,
        authority_requests=AuthorityRequestService(db, crypto, clock),
        statements=StatementService(db, clock, settings.billing),
    )
