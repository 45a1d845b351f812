"""Binds our SMPP connector to an SMSC, submits one message, stops and exits normally.

    python esme_run.py PORT

Prints one JSON line; test_shutdown.py checks the exit code of many runs.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from tidings.channels.base import Inbound, OutboundMessage, Receipt
from tidings.channels.smpp_connector.connector import SmppConnector
from tidings.channels.smpp_connector.options import SmppOptions


class Events:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []

    def receipt(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)
        if receipt.recorded is not None:
            receipt.recorded()

    def inbound(self, message: Inbound) -> None:
        pass


async def main(port: int) -> None:
    options = SmppOptions.from_options(
        "op1",
        {"host": "127.0.0.1", "port": port, "system_id": "tidings", "password": "secret"},
        tps=100,
        window=10,
    )
    connector = SmppConnector("op1", options, lambda: datetime.now(UTC))
    events = Events()
    await connector.start(events)
    bound = await connector.wait_bound(10)
    result = await connector.send(
        OutboundMessage("msg_1", "sms", "Acme", "+31612345678", "bye", "gsm7", 1)
    )
    for _ in range(500):
        if events.receipts:
            break
        await asyncio.sleep(0.01)
    await connector.stop()
    print(
        json.dumps(
            {
                "bound": bound,
                "outcome": result.outcome,
                "receipts": len(events.receipts),
                "state": connector.state,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
