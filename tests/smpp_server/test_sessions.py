"""Binding, authentication, enquire_link, unbind and generic_nack over real sockets."""

from __future__ import annotations

import logging
import struct
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.smpp_server.conftest import Login, ServerThread, make_login
from tidings.channels.smpp.constants import CommandStatus, TlvTag
from tidings.channels.smpp.pdu import (
    BindReceiver,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime
from tidings.smpp_server.credentials import CredentialService
from tidings.smpp_server.guard import FailedBinds
from tidings.smpp_server.limits import ServerLimits

S = CommandStatus


def test_bind_enquire_link_and_unbind(connect: Any, login: Login) -> None:
    esme = connect()
    resp = esme.bind(login)
    assert isinstance(resp, BindTransceiverResp)
    assert resp.command_status == S.ESME_ROK
    assert resp.system_id == "Tidings"
    assert resp.tlv(TlvTag.SC_INTERFACE_VERSION) == b"\x34"
    answer = esme.request(EnquireLink(sequence_number=esme.next_sequence()))
    assert isinstance(answer, EnquireLinkResp)
    assert isinstance(esme.request(Unbind(sequence_number=esme.next_sequence())), UnbindResp)
    assert esme.closed()


def test_each_bind_kind_is_accepted_and_a_second_bind_is_refused(
    connect: Any, login: Login
) -> None:
    for kind in (BindTransmitter, BindReceiver, BindTransceiver):
        esme = connect()
        assert esme.bind(login, kind).command_status == S.ESME_ROK
        again = esme.bind(login, BindTransmitter)
        assert isinstance(again, BindTransmitterResp)
        assert again.command_status == S.ESME_RALYBND
        esme.close()


def test_wrong_password_is_refused_logged_and_closed(
    connect: Any, login: Login, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tidings.smpp")
    esme = connect()
    resp = esme.bind(login, password="wrong")
    assert resp.command_status == S.ESME_RINVPASWD
    assert esme.closed()
    assert any(
        "wrong system_id or password" in r.getMessage() and login.system_id in r.getMessage()
        for r in caplog.records
    )
    unknown = connect()
    assert unknown.bind(Login("acc", "smc", "nobody", "x")).command_status == S.ESME_RINVPASWD


def test_repeated_failures_from_one_address_are_slowed_without_slowing_others(
    connect: Any, login: Login, smpp: ServerThread
) -> None:
    bound = connect()
    assert bound.bind(login).command_status == S.ESME_ROK
    free = smpp.limits.failed_binds_free
    for _ in range(free):
        assert connect().bind(login, password="guess").command_status == S.ESME_RINVPASWD
    slowed = connect()
    started = time.monotonic()
    slowed.send(
        BindTransceiver(sequence_number=1, system_id=login.system_id, password=login.password)
    )
    # While that bind waits, the bound session is answered at once.
    ping = time.monotonic()
    assert isinstance(bound.request(EnquireLink(sequence_number=99)), EnquireLinkResp)
    assert time.monotonic() - ping < smpp.limits.failed_bind_delay / 2
    # Even the right password is answered late once the address is being slowed.
    assert slowed.receive().command_status == S.ESME_ROK  # type: ignore[attr-defined]
    assert time.monotonic() - started >= smpp.limits.failed_bind_delay


def test_requests_before_bind_and_from_a_receiver_are_refused(connect: Any, login: Login) -> None:
    esme = connect()
    resp = esme.request(SubmitSm(sequence_number=7, destination_addr="31612345678"))
    assert isinstance(resp, SubmitSmResp)
    assert resp.command_status == S.ESME_RINVBNDSTS
    assert esme.bind(login, BindReceiver).command_status == S.ESME_ROK
    resp = esme.request(
        SubmitSm(sequence_number=8, destination_addr="31612345678", short_message=b"hi")
    )
    assert resp.command_status == S.ESME_RINVBNDSTS


def test_unknown_command_gets_generic_nack_and_the_session_goes_on(
    connect: Any, login: Login
) -> None:
    esme = connect()
    esme.bind(login)
    esme.send_raw(struct.pack(">IIII", 16, 0x00000021, 0, 42))  # submit_multi: not offered
    nack = esme.receive()
    assert isinstance(nack, GenericNack)
    assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVCMDID, 42)
    assert isinstance(esme.request(EnquireLink(sequence_number=43)), EnquireLinkResp)


def test_bind_limit_per_credential(connect: Any, runtime: Runtime) -> None:
    login = make_login(runtime, max_binds=1)
    first = connect()
    assert first.bind(login).command_status == S.ESME_ROK
    assert connect().bind(login).command_status == S.ESME_RBINDFAIL
    first.request(Unbind(sequence_number=first.next_sequence()))
    assert first.closed()
    deadline = time.monotonic() + 5
    while True:  # the server notices the unbind a moment after answering it
        status = connect().bind(login).command_status
        if status == S.ESME_ROK or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == S.ESME_ROK


def test_a_revoked_credential_loses_its_sessions(
    connect: Any, login: Login, runtime: Runtime
) -> None:
    esme = connect()
    assert esme.bind(login).command_status == S.ESME_ROK
    CredentialService(runtime.db, runtime.clock).revoke(login.account_id, login.credential_id)
    assert esme.closed()
    assert connect().bind(login).command_status == S.ESME_RINVPASWD


def test_failed_bind_delays_grow_and_expire_with_the_clock() -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    limits = ServerLimits(failed_binds_free=2, failed_bind_delay=1.0, failed_bind_max_delay=5.0)
    guard = FailedBinds(clock, limits)
    delays = []
    for _ in range(6):
        delays.append(guard.delay("10.0.0.1"))
        guard.failed("10.0.0.1")
    assert delays == [0.0, 0.0, 1.0, 2.0, 4.0, 5.0]
    assert guard.delay("10.0.0.2") == 0.0  # another address is not slowed
    clock.advance(timedelta(seconds=limits.failed_bind_window + 1))
    assert guard.delay("10.0.0.1") == 0.0


def test_bind_limit_per_account_over_all_its_credentials(connect: Any, runtime: Runtime) -> None:
    first_login = make_login(runtime, max_binds=4)
    second_login = make_login(runtime, first_login.account_id, max_binds=4)
    other_account = make_login(runtime, max_binds=4)
    CredentialService(runtime.db, runtime.clock).set_account_caps(
        first_login.account_id, max_binds=2, max_tps=100
    )
    assert connect().bind(first_login).command_status == S.ESME_ROK
    assert connect().bind(second_login).command_status == S.ESME_ROK
    # each credential has room for more, the account has not
    assert connect().bind(first_login).command_status == S.ESME_RBINDFAIL
    assert connect().bind(second_login).command_status == S.ESME_RBINDFAIL
    # another account's binds do not count
    assert connect().bind(other_account).command_status == S.ESME_ROK
