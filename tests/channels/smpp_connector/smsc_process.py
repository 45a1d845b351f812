"""A handle on the scriptable SMSC (smsc.py) running in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("smsc.py")

Event = dict[str, Any]


class SmscProcess:
    def __init__(self, **behaviour: Any) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), json.dumps(behaviour)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        listening = self.wait_for(lambda e: e["event"] in ("listening", "error"), timeout=15)
        if listening["event"] == "error":
            raise RuntimeError(f"the SMSC did not start: {listening['error']}")
        self.port: int = listening["port"]
        self.pid: int = listening["pid"]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.events.append(json.loads(line))
                self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[Event], bool], timeout: float = 10.0, count: int = 1
    ) -> Event:
        """The `count`-th event matching `predicate`, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self.events if predicate(e)]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(
                        f"the SMSC reported no such event; it reported {self.events[-10:]} "
                        f"(exit code {self.process.poll()})"
                    )
                self._changed.wait(min(left, 0.1))

    def of(self, kind: str) -> list[Event]:
        with self._changed:
            return [e for e in self.events if e["event"] == kind]

    def command(self, cmd: str, **fields: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
