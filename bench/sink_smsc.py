"""A lean SMSC for throughput runs: answers every submit_sm and returns its receipt at once.

    python bench/sink_smsc.py '{"password": "secret", "receipts": "after"}'

The scriptable SMSC of the tests (tests/channels/smpp_connector/smsc.py, smpp34's Server
behind a relaying gate) costs about 0.33 ms of CPU per message with its receipt, as much
as Tidings itself; on two cores the two cannot both run at 3,000 messages/s. This one
speaks the same SMPP 3.4 to a transceiver and does nothing else: one asyncio protocol,
binds checked against the password, submit_sm answered with a message id and, with
`receipts: "after"`, followed by a deliver_sm receipt in both forms (the text
`id:... stat:DELIVRD` and the receipted_message_id / message_state TLVs), everything one
read produced written in one send. enquire_link and unbind are answered; other commands
get generic_nack.

Its stdout speaks the tests' SMSC event lines the benchmarks read: `listening` (with the
port), `bind`, and `stats` (submits answered, receipts sent) for {"cmd": "stats"} on
stdin; it leaves when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import time
from typing import Any

BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
RESPONSE = 0x80000000
GENERIC_NACK = 0x80000000
ESME_RINVPASWD, ESME_RINVCMDID = 0x0E, 0x03
TLV_RECEIPTED_MESSAGE_ID, TLV_MESSAGE_STATE = 0x001E, 0x0427
STATE_DELIVERED = 2
HEADER = struct.Struct(">IIII")


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return HEADER.pack(16 + len(body), command_id, status, sequence) + body


def c_string(data: bytes, at: int) -> tuple[bytes, int]:
    end = data.index(b"\0", at)
    return data[at:end], end + 1


class Counters:
    def __init__(self) -> None:
        self.submits = 0
        self.receipts = 0
        self.message_ids = 0


class SinkSession(asyncio.Protocol):
    def __init__(self, password: bytes, receipts: bool, counters: Counters) -> None:
        self._password = password
        self._receipts = receipts
        self._counters = counters
        self._buffer = bytearray()
        self._sequence = 0
        self._transport: Any = None  # uvloop's transports are not asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        out = bytearray()
        buffer = self._buffer
        at = 0
        while len(buffer) - at >= 16:
            length, command_id, _status, sequence = HEADER.unpack_from(buffer, at)
            if length < 16 or length > 65_536:
                self._transport.close()
                return
            if len(buffer) - at < length:
                break
            body = bytes(buffer[at + 16 : at + length])
            at += length
            self._handle(command_id, sequence, body, out)
        del buffer[:at]
        if out and self._transport is not None:
            self._transport.write(bytes(out))

    def _handle(self, command_id: int, sequence: int, body: bytes, out: bytearray) -> None:
        if command_id == SUBMIT_SM:
            self._submit(sequence, body, out)
        elif command_id == DELIVER_SM | RESPONSE or command_id == ENQUIRE_LINK | RESPONSE:
            pass
        elif command_id == ENQUIRE_LINK:
            out += pdu(ENQUIRE_LINK | RESPONSE, 0, sequence)
        elif command_id in (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER):
            _system_id, at = c_string(body, 0)
            password, _ = c_string(body, at)
            ok = password == self._password
            out += pdu(command_id | RESPONSE, 0 if ok else ESME_RINVPASWD, sequence, b"sink\0")
            if ok:
                say(event="bind")
        elif command_id == UNBIND:
            out += pdu(UNBIND | RESPONSE, 0, sequence)
            self._transport.write(bytes(out))
            out.clear()
            self._transport.close()
        else:
            out += pdu(GENERIC_NACK, ESME_RINVCMDID, sequence)

    def _submit(self, sequence: int, body: bytes, out: bytearray) -> None:
        counters = self._counters
        counters.submits += 1
        counters.message_ids += 1
        message_id = f"{counters.message_ids:x}".encode()
        out += pdu(SUBMIT_SM | RESPONSE, 0, sequence, message_id + b"\0")
        if not self._receipts:
            return
        _service_type, at = c_string(body, 0)
        source_ton, source_npi = body[at], body[at + 1]
        source, at = c_string(body, at + 2)
        destination_ton, destination_npi = body[at], body[at + 1]
        destination, _ = c_string(body, at + 2)
        stamp = time.strftime("%y%m%d%H%M", time.gmtime()).encode()
        text = (
            b"id:" + message_id + b" sub:001 dlvrd:001 submit date:" + stamp
            + b" done date:" + stamp + b" stat:DELIVRD err:000 text:"
        )  # fmt: skip
        receipt = (
            b"\0"  # service_type
            + bytes((destination_ton, destination_npi)) + destination + b"\0"
            + bytes((source_ton, source_npi)) + source + b"\0"
            + bytes((0x04, 0, 0))  # esm_class: a delivery receipt; protocol_id; priority
            + b"\0\0"  # schedule_delivery_time, validity_period
            + bytes((0, 0, 0, 0, len(text)))  # registered_delivery .. sm_default_msg_id, length
            + text
            + struct.pack(">HH", TLV_RECEIPTED_MESSAGE_ID, len(message_id) + 1)
            + message_id + b"\0"
            + struct.pack(">HHB", TLV_MESSAGE_STATE, 1, STATE_DELIVERED)
        )  # fmt: skip
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        out += pdu(DELIVER_SM, 0, self._sequence, receipt)
        counters.receipts += 1


async def serve(behaviour: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    counters = Counters()
    password = str(behaviour.get("password", "secret")).encode()
    receipts = behaviour.get("receipts", "after") != "none"
    server = await loop.create_server(
        lambda: SinkSession(password, receipts, counters), "127.0.0.1", 0
    )
    say(event="listening", port=server.sockets[0].getsockname()[1])
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            command = json.loads(line)
        except ValueError:
            continue
        if command.get("cmd") == "stats":
            say(event="stats", submits=counters.submits, receipts=counters.receipts)
    server.close()


def main() -> None:
    behaviour = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    try:
        import uvloop

        uvloop.run(serve(behaviour))
    except ImportError:
        asyncio.run(serve(behaviour))


if __name__ == "__main__":
    main()
