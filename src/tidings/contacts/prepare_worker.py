"""An import's worker process: `python -m tidings.contacts.prepare_worker`, started by
`tidings.contacts.prepare.Preparation`. It reads a preparer and then batches of records
from its stdin and writes each batch back prepared (or its traceback) to its stdout, until
it reads None or its stdin closes (the importing process ended)."""

from __future__ import annotations

import os
import traceback
from multiprocessing.connection import Connection

from tidings.contacts.prepare import FAILED, PREPARED, dump_batch, fewer_collections


def main() -> None:
    # The protocol owns the real stdout; anything printed goes to stderr instead.
    inbox = Connection(os.dup(0), writable=False)
    outbox = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    try:
        preparer = inbox.recv()
        while True:
            item = inbox.recv()
            if item is None:
                return
            try:
                outbox.send_bytes(PREPARED + dump_batch(preparer.prepare(*item)))
            except Exception:
                outbox.send_bytes(FAILED + traceback.format_exc().encode())
                return
    except (EOFError, OSError):
        return  # the importing process is gone


if __name__ == "__main__":
    with fewer_collections():
        main()
