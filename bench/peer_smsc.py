"""The loopback SMSC for the peer benchmark: the scriptable SMSC of the tests (smpp34's
Server behind a small gate) in its own process, with its counters readable while it runs.

Quiet mode prints no per-message events; `stats()` asks it over stdin how many submits it
answered and receipts it delivered so far.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from typing import Any

from common import BENCH_DIR

SMSC_SCRIPT = BENCH_DIR.parent / "tests" / "channels" / "smpp_connector" / "smsc.py"
SMSC_PASSWORD = "secret"


class LoopbackSmsc:
    """A running SMSC process: its port, pid, binds seen, and live counters."""

    def __init__(self, receipts: str = "after", receipt_delay: float = 0.0) -> None:
        behaviour = {
            "password": SMSC_PASSWORD,
            "quiet": True,
            "receipts": receipts,
            "receipt_delay": receipt_delay,
        }
        self.process = subprocess.Popen(
            [sys.executable, str(SMSC_SCRIPT), json.dumps(behaviour)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        listening = json.loads(self.process.stdout.readline())
        if listening.get("event") != "listening":
            self.close()
            raise RuntimeError(f"the SMSC did not start: {listening}")
        self.port = int(listening["port"])
        self.pid = self.process.pid
        self.binds = 0
        self._stats: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "stats":
                self._stats.put(event)
            elif event.get("event") == "bind":
                self.binds += 1

    def stats(self, timeout: float = 10.0) -> dict[str, int]:
        """Submits answered and receipts delivered so far."""
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write('{"cmd": "stats"}\n')
            self.process.stdin.flush()
            event = self._stats.get(timeout=timeout)
        return {"submits": int(event["submits"]), "receipts": int(event["receipts"])}

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()  # the SMSC leaves when stdin closes
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LoopbackSmsc:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
