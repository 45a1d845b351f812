"""A scriptable SMSC for tests and the benchmark: smpp34's `Server` behind a small gate.

    python smsc.py '{"password": "secret", ...}'

Runs in its own process (smpp34 is never imported into the test process, and this
process leaves with os._exit: smpp34 can crash the interpreter at exit, see
docs/architecture.md). smpp34's Server accepts any password, so clients connect to a gate
of ours that reads the bind PDU, refuses a wrong password with ESME_RINVPASWD itself and
otherwise relays the TCP stream to the Server; the gate can also drop every connection.

Behaviour (the JSON argument, changeable later with {"cmd": "set", ...} on stdin):
    password        the password a bind must carry
    throttle        answer the first N submits ESME_RTHROTTLED (counting down)
    reject          {destination: command_status} answered to submits to that number
    receipts        "after" (default): submit_sm_resp, then the receipt;
                    "before": the receipt first, the response 0.2 s later;
                    "none": no receipts at all
    no_receipt      destinations that never get a receipt
    receipt_stat    {destination: stat} (default DELIVRD)
    undeliverable   submit numbers (1-based) whose receipt says UNDELIV
    receipt_form    "tlv" (TLVs and text, default) or "text" (text only)
    receipt_delay   seconds between a submit_sm_resp and its receipt (default 0)
    drop_at         on that submit (1-based), answer nothing and drop every connection
    quiet           report no per-submit events (for the benchmark)
    tls             {"cert": PEM file, "key": PEM file}: the gate speaks TLS

Commands on stdin, one JSON object a line:
    {"cmd": "set", ...behaviour...}
    {"cmd": "drop"}                              close every client connection
    {"cmd": "receipt", "message_id": "...", "source": "...", "destination": "...",
     "stat": "DELIVRD"}                          a receipt now, for an earlier submit
    {"cmd": "mo", "source": "...", "destination": "...", "text": "...",
     "form": "udh" | "sar", "reference": 7, "order": [2, 0, 1]}
                                                 a UCS-2 inbound message, its parts in that order
    {"cmd": "stats"}

Every event is one JSON line on stdout: listening, bind, bind_refused, submit, receipt,
dropped, mo_sent, stats, error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import ssl
import sys
import time
from typing import Any

import smpp34

DELIVER_TIMEOUT = 10.0


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def c_strings(body: bytes, count: int) -> list[str]:
    values: list[str] = []
    at = 0
    for _ in range(count):
        end = body.index(b"\0", at)
        values.append(body[at:end].decode("latin-1"))
        at = end + 1
    return values


class Smsc:
    def __init__(self, behaviour: dict[str, Any]) -> None:
        self.behaviour: dict[str, Any] = {"password": "secret", "receipts": "after"}
        self.behaviour.update(behaviour)
        self.inner_port = free_port()
        self.server = smpp34.Server(host="127.0.0.1", port=self.inner_port, system_id="smsc")
        self.sessions: dict[str, Any] = {}
        self.connections: set[asyncio.StreamWriter] = set()
        self.submits = 0
        self.receipts_sent = 0
        self.counter = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        # Receipts whose deliver_sm failed (the client went away): sent again at the next
        # bind that can receive, as an SMSC keeps receipts for an absent client.
        self.owed: list[tuple[str, str, str, str]] = []

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- the gate ----------------------------------------------------------------------
    async def gate(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            header = await reader.readexactly(16)
            length = int.from_bytes(header[:4], "big")
            command_id = int.from_bytes(header[4:8], "big")
            sequence = header[12:16]
            body = await reader.readexactly(length - 16)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        if command_id in (0x01, 0x02, 0x09):
            system_id, password = c_strings(body, 2)
            if password != self.behaviour["password"]:
                say(event="bind_refused", system_id=system_id, at=time.monotonic())
                response = (16).to_bytes(4, "big") + (command_id | 0x80000000).to_bytes(4, "big")
                writer.write(response + (0x0E).to_bytes(4, "big") + sequence)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                writer.close()
                return
            say(event="bind", system_id=system_id, command_id=command_id)
        try:
            inner_reader, inner_writer = await asyncio.open_connection("127.0.0.1", self.inner_port)
        except OSError:
            writer.close()
            return
        inner_writer.write(header + body)
        self.connections.add(writer)
        try:
            await asyncio.gather(self.pipe(reader, inner_writer), self.pipe(inner_reader, writer))
        finally:
            self.connections.discard(writer)
            writer.close()
            inner_writer.close()

    async def pipe(self, source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                target.write(chunk)
                await target.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            target.close()

    def drop(self) -> None:
        for writer in list(self.connections):
            transport = writer.transport
            transport.abort()
        say(event="dropped", connections=len(self.connections))

    # --- the SMSC ------------------------------------------------------------------------
    async def serve(self) -> None:
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                self.sessions[event.session_id] = event
                if event.can_receive and self.owed:
                    owed, self.owed = self.owed, []
                    for receipt in owed:
                        self.spawn(self.send_receipt(*receipt))
            elif isinstance(event, smpp34.Unbound):
                self.sessions.pop(event.session_id, None)
                say(event="unbound")
            elif isinstance(event, smpp34.SubmitSmEvent):
                self.submits += 1
                self.spawn(self.on_submit(event, self.submits))

    def receiver(self) -> Any:
        for session in self.sessions.values():
            if session.can_receive:
                return session
        return None

    async def on_submit(self, event: Any, number: int) -> None:
        b = self.behaviour
        destination = event.destination_addr
        if not b.get("quiet"):
            say(
                event="submit",
                number=number,
                source_addr=event.source_addr,
                source_addr_ton=event.source_addr_ton,
                destination_addr=destination,
                esm_class=event.esm_class,
                data_coding=event.data_coding,
                short_message=event.short_message.hex(),
                tlvs=[[item.tag, item.value.hex()] for item in event.tlvs],
            )
        if b.get("drop_at") == number:
            self.drop()
            return
        if b.get("throttle", 0) > 0:
            b["throttle"] -= 1
            event.reject(0x58)
            return
        status = b.get("reject", {}).get(destination)
        if status is not None:
            event.reject(int(status))
            return
        self.counter += 1
        message_id = f"smsc-{self.counter}"
        if destination in b.get("no_receipt", []) or b.get("receipts") == "none":
            event.accept(message_id=message_id)
            return
        stat = b.get("receipt_stat", {}).get(destination, "DELIVRD")
        if number in b.get("undeliverable", []):
            stat = "UNDELIV"
        receipt = self.send_receipt(message_id, event.destination_addr, event.source_addr, stat)
        if b.get("receipts") == "before":
            self.spawn(receipt)
            await asyncio.sleep(0.2)
            event.accept(message_id=message_id)
        else:
            event.accept(message_id=message_id)
            if b.get("receipt_delay"):
                await asyncio.sleep(float(b["receipt_delay"]))
            await receipt

    async def send_receipt(self, message_id: str, source: str, destination: str, stat: str) -> None:
        session = self.receiver()
        if session is None:
            self.owed.append((message_id, source, destination, stat))
            return
        states = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "REJECTD": 8}
        error = "000" if stat == "DELIVRD" else "001"
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:2611221200 done date:2611221201 stat:{stat} err:{error} text:x"
        )
        tlvs = []
        if self.behaviour.get("receipt_form", "tlv") == "tlv":
            tlvs = [
                smpp34.Tlv(0x001E, message_id.encode() + b"\0"),
                smpp34.Tlv(0x0427, bytes([states.get(stat, 7)])),
            ]
        try:
            response = await asyncio.wait_for(
                session.deliver_sm(
                    destination,
                    text.encode(),
                    source_addr=source,
                    esm_class=0x04,
                    tlvs=tlvs,
                ),
                DELIVER_TIMEOUT,
            )
        except Exception as error:
            say(event="receipt_owed", message_id=message_id, error=f"{type(error).__name__}")
            self.owed.append((message_id, source, destination, stat))
            return
        self.receipts_sent += 1
        if not self.behaviour.get("quiet"):
            say(event="receipt", message_id=message_id, command_status=response.command_status)

    async def mobile_originated(self, command: dict[str, Any]) -> None:
        session = self.receiver()
        if session is None:
            say(event="error", error="no session to send an inbound message on")
            return
        units = command["text"].encode("utf-16-be")
        per_part = 134  # 67 UCS-2 units
        chunks = [units[i : i + per_part] for i in range(0, len(units), per_part)]
        total = len(chunks)
        reference = int(command.get("reference", 1))
        order = command.get("order", list(range(total)))
        for index in order:
            chunk, seqnum = chunks[index], index + 1
            esm_class, tlvs = 0, []
            if command.get("form", "udh") == "udh":
                chunk = bytes([5, 0, 3, reference & 0xFF, total, seqnum]) + chunk
                esm_class = 0x40
            else:
                tlvs = [
                    smpp34.Tlv(0x020C, reference.to_bytes(2, "big")),
                    smpp34.Tlv(0x020E, bytes([total])),
                    smpp34.Tlv(0x020F, bytes([seqnum])),
                ]
            response = await asyncio.wait_for(
                session.deliver_sm(
                    command["destination"],
                    chunk,
                    source_addr=command["source"],
                    source_addr_ton=1,
                    source_addr_npi=1,
                    esm_class=esm_class,
                    data_coding=8,
                    tlvs=tlvs,
                ),
                DELIVER_TIMEOUT,
            )
            say(event="mo_sent", seqnum=seqnum, total=total, command_status=response.command_status)

    # --- control -------------------------------------------------------------------------
    async def control(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command = json.loads(line)
            kind = command.pop("cmd")
            if kind == "set":
                self.behaviour.update(command)
                say(event="set")
            elif kind == "drop":
                self.drop()
            elif kind == "receipt":
                self.spawn(
                    self.send_receipt(
                        command["message_id"],
                        command["source"],
                        command["destination"],
                        command.get("stat", "DELIVRD"),
                    )
                )
            elif kind == "mo":
                self.spawn(self.mobile_originated(command))
            elif kind == "stats":
                say(
                    event="stats",
                    submits=self.submits,
                    receipts=self.receipts_sent,
                    sessions=len(self.sessions),
                )

    async def run(self) -> None:
        await self.server.start()
        context = None
        if self.behaviour.get("tls"):
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.behaviour["tls"]["cert"], self.behaviour["tls"]["key"])
        gate = await asyncio.start_server(self.gate, "127.0.0.1", 0, ssl=context)
        port = gate.sockets[0].getsockname()[1]
        say(event="listening", port=port, pid=os.getpid())
        serving = asyncio.create_task(self.serve())
        await self.control()  # until stdin closes
        serving.cancel()
        gate.close()
        # Leave at once: no waiting for TLS handshakes or relays still open (and smpp34 can
        # crash the interpreter at exit).
        sys.stdout.flush()
        os._exit(0)


def main() -> None:
    behaviour = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    try:
        asyncio.run(Smsc(behaviour).run())
    except Exception as error:
        say(event="error", error=f"{type(error).__name__}: {error}")
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
