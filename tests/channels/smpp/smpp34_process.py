"""A handle on smpp34 running in a child process (see smpp34_worker.py)."""

from __future__ import annotations

import importlib.util
import json
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_SERVICES

WORKER = Path(__file__).with_name("smpp34_worker.py")


def smpp34_available() -> bool:
    """Whether smpp34 is installed, found without importing it into this process."""
    return importlib.util.find_spec("smpp34") is not None


# smpp34 comes with the dev extra; where CI requires it, a missing one fails instead of skipping.
requires_smpp34 = pytest.mark.skipif(
    not smpp34_available() and not REQUIRE_SERVICES,
    reason="smpp34 is not installed (pip install -e '.[dev]'); required in CI",
)


class Smpp34Error(Exception):
    pass


class Smpp34Codec:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise Smpp34Error(f"smpp34 worker gave no answer (exit code {self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def encode(self, kind: str, fields: dict[str, Any]) -> bytes:
        answer = self.call({"op": "encode", "type": kind, "fields": fields})
        if "error" in answer:
            raise Smpp34Error(answer["error"])
        return bytes.fromhex(answer["hex"])

    def decode(self, data: bytes) -> dict[str, Any]:
        return self.call({"op": "decode", "hex": data.hex()})

    def close(self) -> int:
        """Stop the worker; its exit code (negative: killed by that signal)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            return self.process.wait(timeout=self.timeout)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
