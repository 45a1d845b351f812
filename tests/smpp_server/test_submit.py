"""submit_sm, data_sm, query_sm and cancel_sm through the same pipeline as the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.smpp_server.conftest import Esme, Login, make_login
from tests.support import wait_until
from tidings.channels.smpp import tlv
from tidings.channels.smpp.concat import ConcatMethod, split_message
from tidings.channels.smpp.constants import CommandStatus, DataCoding, EsmClass, MessageState
from tidings.channels.smpp.pdu import (
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
)
from tidings.channels.smpp.text import encode_text
from tidings.channels.smpp.udh import ConcatInfo, concat_header
from tidings.core.ids import is_valid_id
from tidings.runtime import Runtime
from tidings.smpp_server.credentials import CredentialService

S = CommandStatus
TO = "31612345678"
LONG_UCS2 = "Привет, мир! Это длинное сообщение. " * 5  # 3 UCS-2 parts of 67 units
LONG_GSM = "The quick brown fox jumps over the lazy dog; {braces} cost two septets. " * 4


def submit(esme: Esme, **fields: Any) -> SubmitSmResp:
    fields.setdefault("source_addr", "Acme")
    fields.setdefault("source_addr_ton", 5)
    fields.setdefault("destination_addr", TO)
    fields.setdefault("dest_addr_ton", 1)
    resp = esme.request(SubmitSm(sequence_number=esme.next_sequence(), **fields))
    assert isinstance(resp, SubmitSmResp)
    return resp


@pytest.fixture
def esme(connect: Any, login: Login) -> Esme:
    session: Esme = connect()
    assert session.bind(login).command_status == S.ESME_ROK
    return session


def test_a_submit_becomes_a_tidings_message_under_the_id_it_answers_with(
    esme: Esme, login: Login, runtime: Runtime
) -> None:
    resp = submit(esme, short_message=b"Hello from SMPP")
    assert resp.command_status == S.ESME_ROK
    assert is_valid_id(resp.message_id, "msg")
    message = runtime.queries.get(login.account_id, resp.message_id)
    assert (message["from"], message["to"], message["body"]) == (
        "Acme",
        "+" + TO,
        "Hello from SMPP",
    )
    wait_until(
        lambda: runtime.queries.get(login.account_id, resp.message_id)["status"] == "delivered",
        message="delivered",
    )


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"destination_addr": "12"}, S.ESME_RINVDSTADR),
        ({"destination_addr": "abc"}, S.ESME_RINVDSTADR),
        ({"source_addr": "", "source_addr_ton": 0}, S.ESME_RINVSRCADR),
        ({"source_addr": "Far too long a name", "source_addr_ton": 5}, S.ESME_RINVSRCADR),
        ({"short_message": b""}, S.ESME_RINVMSGLEN),
        ({"schedule_delivery_time": "not a time at al"}, S.ESME_RINVSCHED),
        ({"validity_period": "000000000000000R"}, S.ESME_RINVEXPIRY),
        ({"data_coding": 0x04, "short_message": b"\x00\x01"}, S.ESME_RSUBMITFAIL),
    ],
)
def test_invalid_submits_get_the_matching_status(
    esme: Esme, fields: dict[str, Any], status: int
) -> None:
    fields.setdefault("short_message", b"hi")
    assert submit(esme, **fields).command_status == status


def test_a_text_over_the_segment_limit_is_refused(esme: Esme, runtime: Runtime) -> None:
    limit = runtime.settings.max_segments
    payload = ("x" * 153 * (limit + 1)).encode()
    resp = submit(esme, tlvs=(tlv.message_payload(payload),))
    assert resp.command_status == S.ESME_RINVMSGLEN
    parts = split_message("y" * 153 * (limit + 1), ConcatMethod.UDH8, reference=1)
    first = parts[0]
    resp = submit(esme, esm_class=first.esm_class, short_message=first.short_message)
    assert resp.command_status == S.ESME_RINVMSGLEN  # refused at the first part


@pytest.mark.parametrize("method", [ConcatMethod.UDH8, ConcatMethod.UDH16, ConcatMethod.SAR])
@pytest.mark.parametrize("text", [LONG_UCS2, LONG_GSM], ids=["ucs2", "gsm7"])
def test_a_long_message_in_parts_becomes_one_message(
    esme: Esme, login: Login, runtime: Runtime, method: ConcatMethod, text: str
) -> None:
    parts = split_message(text, method, reference=77)
    assert len(parts) >= 2
    ids = []
    for part in reversed(parts):  # any order
        resp = submit(
            esme,
            esm_class=part.esm_class,
            data_coding=part.data_coding,
            short_message=part.short_message,
            tlvs=part.tlvs,
        )
        assert resp.command_status == S.ESME_ROK
        ids.append(resp.message_id)
    assert len(set(ids)) == 1
    message = runtime.queries.get(login.account_id, ids[0])
    assert message["body"] == text
    assert message["segments"] == len(parts) or method is not ConcatMethod.UDH8


def test_message_payload_in_submit_sm_and_data_sm(
    esme: Esme, login: Login, runtime: Runtime
) -> None:
    payload = LONG_UCS2.encode("utf-16-be")
    resp = submit(esme, data_coding=DataCoding.UCS2, tlvs=(tlv.message_payload(payload),))
    assert resp.command_status == S.ESME_ROK
    assert runtime.queries.get(login.account_id, resp.message_id)["body"] == LONG_UCS2
    data = esme.request(
        DataSm(
            sequence_number=esme.next_sequence(),
            source_addr="Acme",
            source_addr_ton=5,
            destination_addr=TO,
            dest_addr_ton=1,
            data_coding=DataCoding.SMSC_DEFAULT,
            tlvs=(tlv.message_payload(encode_text("data_sm text", "gsm7")),),
        )
    )
    assert isinstance(data, DataSmResp)
    assert data.command_status == S.ESME_ROK
    assert runtime.queries.get(login.account_id, data.message_id)["body"] == "data_sm text"


def test_a_bad_udh_is_refused(esme: Esme) -> None:
    header = concat_header(ConcatInfo(1, 2, 1), sixteen_bit=False)
    resp = submit(esme, esm_class=EsmClass.UDHI, short_message=header[:3])
    assert resp.command_status == S.ESME_RINVESMCLASS
    resp = submit(esme, short_message=b"x", tlvs=(tlv.sar_msg_ref_num(5),))
    assert resp.command_status == S.ESME_RMISSINGOPTPARAM


def test_query_sm_and_cancel_sm(esme: Esme, login: Login, runtime: Runtime) -> None:
    later = submit(esme, short_message=b"later", schedule_delivery_time="000001000000000R")
    assert later.command_status == S.ESME_ROK
    assert runtime.queries.get(login.account_id, later.message_id)["status"] == "scheduled"
    query = esme.request(QuerySm(sequence_number=esme.next_sequence(), message_id=later.message_id))
    assert isinstance(query, QuerySmResp)
    assert (query.command_status, query.message_state) == (S.ESME_ROK, MessageState.ENROUTE)
    assert query.final_date == ""
    cancel = esme.request(
        CancelSm(sequence_number=esme.next_sequence(), message_id=later.message_id)
    )
    assert isinstance(cancel, CancelSmResp)
    assert cancel.command_status == S.ESME_ROK
    query = esme.request(QuerySm(sequence_number=esme.next_sequence(), message_id=later.message_id))
    assert isinstance(query, QuerySmResp)
    assert query.message_state == MessageState.DELETED
    assert len(query.final_date) == 16
    again = esme.request(
        CancelSm(sequence_number=esme.next_sequence(), message_id=later.message_id)
    )
    assert again.command_status == S.ESME_RCANCELFAIL
    unknown = esme.request(QuerySm(sequence_number=esme.next_sequence(), message_id="msg_nope"))
    assert unknown.command_status == S.ESME_RQUERYFAIL


def test_messages_of_another_account_cannot_be_queried(
    esme: Esme, connect: Any, runtime: Runtime
) -> None:
    resp = submit(esme, short_message=b"mine")
    other = connect()
    assert other.bind(make_login(runtime)).command_status == S.ESME_ROK
    query = other.request(QuerySm(sequence_number=1, message_id=resp.message_id))
    assert query.command_status == S.ESME_RQUERYFAIL
    cancel = other.request(CancelSm(sequence_number=2, message_id=resp.message_id))
    assert cancel.command_status == S.ESME_RCANCELFAIL


def test_throughput_limit_per_credential(connect: Any, runtime: Runtime) -> None:
    login = make_login(runtime, max_tps=3)
    esme = connect()
    esme.bind(login)
    pdus = [
        SubmitSm(
            sequence_number=n,
            source_addr="Acme",
            source_addr_ton=5,
            destination_addr=TO,
            short_message=b"burst",
        )
        for n in range(1, 11)
    ]
    for pdu in pdus:
        esme.send(pdu)
    statuses = sorted(esme.receive().command_status for _ in pdus)  # type: ignore[attr-defined]
    assert statuses.count(S.ESME_ROK) <= 4
    assert statuses.count(S.ESME_RTHROTTLED) >= 6


def test_an_incomplete_long_message_is_dropped_after_the_timeout(
    esme: Esme, login: Login, runtime: Runtime, smpp: Any
) -> None:
    first = split_message(LONG_GSM, ConcatMethod.UDH8, reference=9)[0]
    resp = submit(esme, esm_class=first.esm_class, short_message=first.short_message)
    assert resp.command_status == S.ESME_ROK
    handler = smpp.server.submits
    assert handler.open_sets == 1
    runtime.clock.advance(timedelta(seconds=smpp.limits.reassembly_timeout + 1))
    wait_until(lambda: handler.open_sets == 0, message="the set dropped")
    query = esme.request(QuerySm(sequence_number=esme.next_sequence(), message_id=resp.message_id))
    assert query.command_status == S.ESME_RQUERYFAIL


def test_throughput_limit_per_account_is_shared_by_its_credentials(
    connect: Any, runtime: Runtime
) -> None:
    first_login = make_login(runtime, max_tps=100)
    second_login = make_login(runtime, first_login.account_id, max_tps=100)
    CredentialService(runtime.db, runtime.clock).set_account_caps(
        first_login.account_id, max_binds=10, max_tps=3
    )
    sessions = [connect(), connect()]
    sessions[0].bind(first_login)
    sessions[1].bind(second_login)
    sent = 0
    for n in range(1, 6):
        for esme in sessions:
            esme.send(
                SubmitSm(
                    sequence_number=n,
                    source_addr="Acme",
                    source_addr_ton=5,
                    destination_addr=TO,
                    short_message=b"burst",
                )
            )
            sent += 1
    statuses = [
        esme.receive().command_status  # type: ignore[attr-defined]
        for esme in sessions
        for _ in range(5)
    ]
    assert len(statuses) == sent
    # 10 submits over two credentials of 100/s each: the account's 3/s is the cap
    assert statuses.count(S.ESME_ROK) <= 4
    assert statuses.count(S.ESME_RTHROTTLED) >= 6
