"""smpp34's own client or server, run as a child process by test_interop_smpp34_session.py.

    python smpp34_session.py client PORT   binds as a transceiver to 127.0.0.1:PORT, submits
                                           one message, waits for one deliver_sm, unbinds
    python smpp34_session.py server PORT   listens on 127.0.0.1:PORT, accepts one submit_sm,
                                           answers it with a receipt, ends on unbind once
                                           its stdin is closed

Each step prints one JSON line. The process leaves with os._exit once its output is
flushed, skipping interpreter teardown, where smpp34 has been seen to crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import smpp34

TIMEOUT = 15


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def client(port: int) -> None:
    esme = smpp34.Client(
        host="127.0.0.1",
        port=port,
        system_id="smpp34-esme",
        password="secret",
        bind_type="TRX",
        system_type="VMA",
        addr_ton=1,
        addr_npi=1,
    )
    smsc = await asyncio.wait_for(esme.connect(), TIMEOUT)
    say(step="bound", system_id=smsc.system_id)
    resp = await asyncio.wait_for(
        smsc.submit_sm(
            "31600000001",
            b"hello from smpp34",
            source_addr="Acme",
            source_addr_ton=5,
            registered_delivery=1,
            data_coding=0,
            tlvs=[smpp34.Tlv(0x0204, (42).to_bytes(2, "big")), smpp34.Tlv(0x1403, b"\xaa")],
        ),
        TIMEOUT,
    )
    say(step="submitted", message_id=resp.message_id, command_status=resp.command_status)
    event = await asyncio.wait_for(smsc.next(), TIMEOUT)
    if isinstance(event, smpp34.DeliverSmEvent):
        say(
            step="delivered",
            source_addr=event.source_addr,
            destination_addr=event.destination_addr,
            esm_class=event.esm_class,
            short_message=event.short_message.hex(),
            tlvs=[[item.tag, item.value.hex()] for item in event.tlvs],
        )
    else:
        say(step="disconnected")
    await asyncio.wait_for(smsc.unbind(), TIMEOUT)
    say(step="unbound")


async def server(port: int) -> None:
    smsc = smpp34.Server(host="127.0.0.1", port=port, system_id="smpp34-smsc")
    await smsc.start()
    say(step="listening")
    sessions: dict[str, Any] = {}
    while True:
        event = await asyncio.wait_for(smsc.next(), TIMEOUT)
        if isinstance(event, smpp34.Esme):
            sessions[event.session_id] = event
            say(step="bound", system_id=event.system_id, can_receive=event.can_receive)
        elif isinstance(event, smpp34.SubmitSmEvent):
            say(
                step="submit_sm",
                source_addr=event.source_addr,
                destination_addr=event.destination_addr,
                esm_class=event.esm_class,
                data_coding=event.data_coding,
                registered_delivery=event.registered_delivery,
                short_message=event.short_message.hex(),
                tlvs=[[item.tag, item.value.hex()] for item in event.tlvs],
            )
            event.accept(message_id="smpp34-id-1")
            resp = await asyncio.wait_for(
                sessions[event.session_id].deliver_sm(
                    event.source_addr,
                    b"id:smpp34-id-1 sub:001 dlvrd:001 stat:DELIVRD err:000 text:hello",
                    source_addr=event.destination_addr,
                    esm_class=0x04,
                    tlvs=[smpp34.Tlv(0x001E, b"smpp34-id-1\0"), smpp34.Tlv(0x0427, b"\x02")],
                ),
                TIMEOUT,
            )
            say(step="receipt_sent", command_status=resp.command_status)
        elif isinstance(event, smpp34.Unbound):
            say(step="unbound")
            break
    # The Unbound event can come before the core has written unbind_resp; stay up until
    # the test, having read it, closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await smsc.stop()


def main() -> None:
    mode, port = sys.argv[1], int(sys.argv[2])
    try:
        asyncio.run(client(port) if mode == "client" else server(port))
    except Exception as error:
        say(step="error", error=f"{type(error).__name__}: {error}")
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
