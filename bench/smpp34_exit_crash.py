"""Reproduces smpp34's crash at interpreter exit (the evidence in docs/architecture.md).

Starts smpp34's `Server` in one process, then runs `--runs` short client processes, each a
plain script that binds with smpp34's `Client`, submits one message, calls `unbind()` and
`stop()` and returns normally. Counts the exit codes: a negative one is a death by signal
(-11 SIGSEGV, -6 SIGABRT) after the work was done, during interpreter teardown.

    python bench/smpp34_exit_crash.py --runs 20
"""

from __future__ import annotations

import argparse
import collections
import json
import socket
import subprocess
import sys
import textwrap

SERVER = textwrap.dedent(
    """
    import asyncio, os, sys, smpp34
    async def main():
        server = smpp34.Server(host="127.0.0.1", port=int(sys.argv[1]), system_id="smsc")
        await server.start()
        print("listening", flush=True)
        count = 0
        while True:
            event = await server.next()
            if isinstance(event, smpp34.SubmitSmEvent):
                count += 1
                event.accept(message_id=f"id{count}")
    try:
        asyncio.run(main())
    finally:
        os._exit(0)
    """
)

CLIENT = textwrap.dedent(
    """
    import asyncio, sys, smpp34
    async def main():
        client = smpp34.Client(host="127.0.0.1", port=int(sys.argv[1]), system_id="esme",
                               password=sys.argv[2], bind_type="TRX")
        smsc = await client.connect()
        resp = await smsc.submit_sm("31600000001", b"hello", source_addr="Acme")
        await smsc.unbind()
        await client.stop()
        print(resp.message_id, flush=True)
    asyncio.run(main())
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    server.stdout.readline()
    codes: collections.Counter[int] = collections.Counter()
    submitted = 0
    messages: collections.Counter[str] = collections.Counter()
    try:
        for run in range(args.runs):
            # Any password binds: smpp34's Server has no way to check one.
            password = "right" if run % 2 else "wrong"
            done = subprocess.run(
                [sys.executable, "-c", CLIENT, str(port), password],
                capture_output=True,
                text=True,
                timeout=30,
            )
            codes[done.returncode] += 1
            submitted += bool(done.stdout.strip())
            if done.returncode < 0:
                last = (done.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
                messages[last[:120]] += 1
    finally:
        server.kill()
        server.wait()
    result = {
        "runs": args.runs,
        "submitted": submitted,
        "exit_codes": dict(codes),
        "crashes": sum(n for code, n in codes.items() if code < 0),
        "stderr_of_crashes": dict(messages),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
