"""Our connector leaves cleanly: unbind answered, the process exits 0 every time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.channels.smpp.smpp34_process import requires_smpp34
from tests.channels.smpp_connector.conftest import SmppStack, smpp_connector
from tests.channels.smpp_connector.smsc_process import SmscProcess
from tests.support import wait_until

pytestmark = requires_smpp34

ESME = Path(__file__).with_name("esme_run.py")
RUNS = 8


def test_a_process_using_the_connector_always_exits_cleanly(
    smsc_factory: Callable[..., SmscProcess],
) -> None:
    # smpp34's own client died by signal at exit in 1 to 6 runs of 30 (docs/architecture.md).
    smsc = smsc_factory()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for run in range(RUNS):
        done = subprocess.run(
            [sys.executable, str(ESME), str(smsc.port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 0, (run, done.returncode, done.stderr[-2000:])
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report == {"bound": True, "outcome": "accepted", "receipts": 1, "state": "stopped"}
        smsc.wait_for(lambda e: e["event"] == "unbound", count=run + 1)


def test_stopping_tidings_unbinds_from_the_smsc(
    smsc_factory: Callable[..., SmscProcess], stack_factory: Callable[..., SmppStack]
) -> None:
    smsc = smsc_factory()
    stack = stack_factory((smpp_connector("op1", smsc.port),))
    wait_until(lambda: stack.status_of("op1")["bound"], message="bound")
    stack.client.__exit__(None, None, None)
    smsc.wait_for(lambda e: e["event"] == "unbound")
    assert stack.status_of("op1")["state"] == "stopped"
