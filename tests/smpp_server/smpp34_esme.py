"""smpp34's own Client as an ESME of our SMPP server, run in a child process.

    python smpp34_esme.py long PORT SYSTEM_ID PASSWORD
        binds as a transceiver, submits one 3-part UCS-2 message (UDH with an 8-bit
        reference, built here by hand), waits for its receipt, unbinds
    python smpp34_esme.py bench PORT SYSTEM_ID PASSWORD COUNT
        submits COUNT one-part messages asking for receipts, WINDOW at a time, and waits
        for every receipt; prints the timings

Each step prints one JSON line. The process leaves with os._exit once its output is
flushed: smpp34 1.5.0 has been seen to crash at interpreter teardown after client use.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import smpp34

TIMEOUT = 20
WINDOW = 200
UCS2_TEXT = (  # Cyrillic on purpose: it needs UCS-2
    "Здравствуйте! Это длинное сообщение из трёх частей, отправленное клиентом smpp34 "
    "на SMPP-сервер Tidings. Каждая часть несёт заголовок UDH с восьмибитной ссылкой, "  # noqa: RUF001
    "а сервер собирает их в одно сообщение."  # noqa: RUF001
)


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def udh_parts(text: str, reference: int) -> list[bytes]:
    """UCS-2 parts of at most 67 units, each behind a 6-octet concatenation header."""
    data = text.encode("utf-16-be")
    chunks = [data[i : i + 134] for i in range(0, len(data), 134)]
    return [
        bytes((5, 0, 3, reference, len(chunks), seq)) + chunk
        for seq, chunk in enumerate(chunks, start=1)
    ]


async def bind(port: int, system_id: str, password: str) -> Any:
    client = smpp34.Client(
        host="127.0.0.1",
        port=port,
        system_id=system_id,
        password=password,
        bind_type="TRX",
        window_size=WINDOW,
    )
    return await asyncio.wait_for(client.connect(), TIMEOUT)


async def long_message(port: int, system_id: str, password: str) -> None:
    smsc = await bind(port, system_id, password)
    say(step="bound", system_id=smsc.system_id)
    ids = []
    parts = udh_parts(UCS2_TEXT, 0x5A)
    for part in parts:
        resp = await asyncio.wait_for(
            smsc.submit_sm(
                "31612345678",
                part,
                source_addr="Acme",
                source_addr_ton=5,
                esm_class=0x40,
                data_coding=8,
                registered_delivery=1,
            ),
            TIMEOUT,
        )
        ids.append(resp.message_id)
    say(step="submitted", parts=len(parts), message_ids=ids, text=UCS2_TEXT)
    event = await asyncio.wait_for(smsc.next(), TIMEOUT)
    if isinstance(event, smpp34.DeliverSmEvent):
        say(
            step="receipt",
            esm_class=event.esm_class,
            source_addr=event.source_addr,
            destination_addr=event.destination_addr,
            short_message=event.short_message.decode("latin-1"),
            tlvs={str(item.tag): item.value.hex() for item in event.tlvs},
        )
    else:
        say(step="disconnected")
    await asyncio.wait_for(smsc.unbind(), TIMEOUT)
    say(step="unbound")


async def bench(port: int, system_id: str, password: str, count: int) -> None:
    smsc = await bind(port, system_id, password)
    say(step="bound")
    receipts: set[str] = set()
    done = asyncio.Event()

    async def collect() -> None:
        while len(receipts) < count:
            event = await smsc.next()
            if not isinstance(event, smpp34.DeliverSmEvent):
                break
            for item in event.tlvs:
                if item.tag == 0x001E:
                    receipts.add(item.value.rstrip(b"\0").decode())
        done.set()

    collector = asyncio.create_task(collect())
    free = asyncio.Semaphore(WINDOW)
    refused = 0

    async def one(n: int) -> None:
        nonlocal refused
        async with free:
            resp = await smsc.submit_sm(
                "31612345678",
                f"benchmark message {n}".encode(),
                source_addr="Bench",
                source_addr_ton=5,
                registered_delivery=1,
            )
            if resp.command_status != 0:
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    submitted = time.perf_counter() - started
    await asyncio.wait_for(done.wait(), max(TIMEOUT, count / 50))
    finished = time.perf_counter() - started
    collector.cancel()
    say(
        step="done",
        count=count,
        refused=refused,
        receipts=len(receipts),
        submit_seconds=round(submitted, 3),
        receipts_seconds=round(finished, 3),
    )
    await asyncio.wait_for(smsc.unbind(), TIMEOUT)


def main() -> None:
    mode, port, system_id, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    try:
        if mode == "long":
            asyncio.run(long_message(port, system_id, password))
        else:
            asyncio.run(bench(port, system_id, password, int(sys.argv[5])))
    except Exception as error:
        say(step="error", error=f"{type(error).__name__}: {error}")
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
