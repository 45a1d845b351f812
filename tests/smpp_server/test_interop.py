"""Real ESMEs against our SMPP server: smpp34's Client (in a child process, see
smpp34_esme.py) and smpplib, each sending a 3-part UCS-2 message and getting its receipt."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.gsm

from tests.channels.smpp.smpp34_process import requires_smpp34
from tests.smpp_server.conftest import Login, ServerThread
from tidings.channels.smpp.receipt import ReceiptStat, parse_receipt
from tidings.runtime import Runtime

SCRIPT = Path(__file__).with_name("smpp34_esme.py")
TIMEOUT = 30.0


def child_lines(process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    while True:
        ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
        text = process.stdout.readline() if ready else ""
        if not text:
            return lines
        line = json.loads(text)
        assert line["step"] != "error", line
        lines.append(line)


@requires_smpp34
def test_smpp34_client_sends_a_long_ucs2_message_and_gets_its_receipt(
    smpp: ServerThread, login: Login, runtime: Runtime
) -> None:
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "long", str(smpp.port), login.system_id, login.password],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = child_lines(process)
        assert process.wait(timeout=TIMEOUT) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    steps = {line["step"]: line for line in lines}
    assert "bound" in steps
    submitted = steps["submitted"]
    assert submitted["parts"] == 3
    (message_id,) = set(submitted["message_ids"])  # every part answered with the one id
    message = runtime.queries.get(login.account_id, message_id)
    assert message["body"] == submitted["text"]
    assert (message["encoding"], message["segments"]) == ("ucs2", 3)
    receipt = steps["receipt"]
    assert receipt["esm_class"] == 0x04
    assert (receipt["source_addr"], receipt["destination_addr"]) == ("31612345678", "Acme")
    parsed = parse_receipt(receipt["short_message"])
    assert (parsed.message_id, parsed.stat) == (message_id, ReceiptStat.DELIVRD)
    assert bytes.fromhex(receipt["tlvs"][str(0x001E)]) == message_id.encode() + b"\0"
    assert receipt["tlvs"][str(0x0427)] == "02"
    assert "unbound" in steps


def test_smpplib_sends_a_long_ucs2_message_and_gets_its_receipt(
    smpp: ServerThread, login: Login, runtime: Runtime
) -> None:
    text = "Приветствую! " * 14  # 182 UCS-2 units: three parts of 67
    client = smpplib.client.Client(
        "127.0.0.1", smpp.port, timeout=TIMEOUT, allow_unknown_opt_params=True
    )
    answers: list[Any] = []
    delivered: list[Any] = []
    client.set_message_sent_handler(lambda pdu: answers.append(pdu))
    client.set_message_received_handler(lambda pdu: delivered.append(pdu))
    client.connect()
    try:
        client.bind_transceiver(system_id=login.system_id, password=login.password)
        parts, encoding, esm_class = smpplib.gsm.make_parts(text)
        assert len(parts) == 3
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr="Acme",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                destination_addr="31612345678",
                short_message=part,
                data_coding=encoding,
                esm_class=esm_class,
                registered_delivery=True,
            )
        while len(answers) < 3 or not delivered:
            client.read_once()
        ids = {pdu.message_id.decode() for pdu in answers}
        assert all(pdu.status == 0 for pdu in answers)
        (message_id,) = ids
        assert runtime.queries.get(login.account_id, message_id)["body"] == text
        receipt = delivered[0]
        assert receipt.esm_class == 0x04
        assert receipt.receipted_message_id.decode().rstrip("\0") == message_id
        parsed = parse_receipt(receipt.short_message.decode("ascii"))
        assert (parsed.message_id, parsed.stat) == (message_id, ReceiptStat.DELIVRD)
        client.unbind()
    finally:
        client.disconnect()
