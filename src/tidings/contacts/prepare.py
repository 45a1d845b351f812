"""The per-row work of an import batch that needs no database: checking each record and
turning it into columns (ciphertexts, blind indexes, the number's region, carrier and time
zones, the id a new contact gets). It is independent between rows, so a large import runs
it in worker processes while the importing process reads the file and writes batches.

`Preparation` hands batches out and gives them back in the order they were read, so line
numbers, errors and the import's cursor are the same as when one process does it all; at
most a few batches are in flight, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import gc
import io
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tidings.contacts.reader import Block, Layout, Record, block_records
from tidings.contacts.records import ColumnCodec
from tidings.contacts.rows import PREPARED_COLUMNS, ParsedRow, Prepared, RowError, RowParser
from tidings.core.ids import new_ids

# A record as it travels to a worker: (line, values, why it could not be read).
RawRecord = tuple[int, "dict[str, Any] | list[str] | None", "str | None"]
# What a batch is handed out as: records read, or lines read into records where prepared.
Records = Sequence[RawRecord] | Block


@dataclass
class PreparedBatch:
    rows: list[Prepared] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    records: int = 0


class BatchPreparer:
    def __init__(
        self, parser: RowParser, codec: ColumnCodec, account_id: str, layout: Layout
    ) -> None:
        self._parser = parser
        self._layout = layout
        self._codec = codec
        self._account = account_id
        self._given: dict[tuple[str, ...], tuple[str, ...]] = {}

    def prepare(self, records: Records, now: datetime) -> PreparedBatch:
        read: Iterable[Record] = (
            block_records(self._layout, records)
            if isinstance(records, Block)
            else (Record(line, 0, 0, values, error) for line, values, error in records)
        )
        batch = PreparedBatch()
        parse = self._parser.parse
        parsed: list[ParsedRow] = []
        for record in read:
            batch.records += 1
            result = parse(record)
            if isinstance(result, ParsedRow):
                parsed.append(result)
            else:
                batch.errors.extend(result)
        ids = new_ids("con", now, len(parsed))
        batch.rows = [self._prepare(r, i) for r, i in zip(parsed, ids, strict=True)]
        return batch

    def _prepare(self, row: ParsedRow, contact_id: str) -> Prepared:
        account = self._account
        codec = self._codec
        values = row.values
        index = codec.number_index(account, values["number"])
        attributes = {k: v for k, v in values.items() if k not in _NOT_COLUMNS}
        given = values.get("fields")
        columns = codec.columns(account, attributes, None, index)
        names = tuple(columns)
        shared = self._given.setdefault(names, names)  # one object: pickled once a batch
        indexes = None
        if given:
            kept = {k: v for k, v in given.items() if v is not None}
            columns["fields_enc"] = codec.columns(account, {}, kept)["fields_enc"]
            indexes = codec.field_indexes(account, given)
        columns["id"] = contact_id
        columns["account_id"] = account
        columns["import_line"] = row.line
        return Prepared(
            row.line,
            index,
            contact_id,
            tuple(map(columns.get, PREPARED_COLUMNS)),
            shared,
            given,
            indexes,
            values.get("tags"),
            values.get("consent"),
        )


_NOT_COLUMNS = frozenset(("fields", "tags", "consent"))

# --- running it in worker processes -----------------------------------------------------

# A worker's answer: PREPARED and `dump_batch`'s bytes, or FAILED and its traceback.
PREPARED = b"P"
FAILED = b"F"


def dump_batch(batch: PreparedBatch) -> bytes:
    """A prepared batch as bytes: plain tuples, pickled without a memo (a batch's rows
    share next to no object, and memoising each of their values cost more than all the
    rest of pickling them)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # no memo: the structure has no cycles
    errors = [(e.line, e.column, e.reason) for e in batch.errors]
    pickler.dump(([tuple(r) for r in batch.rows], errors, batch.records))
    return buffer.getvalue()


def load_batch(data: bytes) -> PreparedBatch:
    rows, errors, records = pickle.loads(data)
    new = tuple.__new__
    return PreparedBatch([new(Prepared, r) for r in rows], [RowError(*e) for e in errors], records)


class _Worker:
    """One worker process (`python -m tidings.contacts.prepare_worker`, which imports only
    what preparing needs): it is sent the preparer, then batches, and sends each batch back
    prepared, in order. A thread feeds it and another reads its results as they come, so
    it never waits on the importing process: not on a large batch being sent, nor, while
    that process writes a transaction, on a result nobody reads yet."""

    def __init__(self, preparer: BatchPreparer) -> None:
        root = str(Path(__file__).resolve().parents[2])  # where the tidings package is
        # No empty entry: that would put the current directory on the worker's path.
        path = [p for p in [root, *os.environ.get("PYTHONPATH", "").split(os.pathsep)] if p]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tidings.contacts.prepare_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._to = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._from = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._inbox: queue.Queue[bytes | None] = queue.Queue()  # None: the worker is gone
        self._feeder = threading.Thread(target=self._feed, name="import-feeder", daemon=True)
        self._feeder.start()
        self._receiver = threading.Thread(target=self._receive, name="import-receiver", daemon=True)
        self._receiver.start()
        self._outbox.put(preparer)

    def _feed(self) -> None:
        while True:
            item = self._outbox.get()
            try:
                self._to.send(item)
            except OSError:  # the worker is gone; take() reports it
                return
            if item is None:
                return

    def _receive(self) -> None:
        while True:
            try:
                self._inbox.put(self._from.recv_bytes())
            except (EOFError, OSError):
                self._inbox.put(None)
                return

    def send(self, records: Records, now: datetime) -> None:
        self._outbox.put((records, now))

    def has_result(self) -> bool:
        return not self._inbox.empty()

    def take(self) -> PreparedBatch:
        result = self._inbox.get()
        if result is None:
            self._inbox.put(None)  # a later take() learns it too
            code = self._process.wait()
            raise RuntimeError(f"an import worker process ended (exit status {code})")
        if result[:1] == FAILED:  # the worker's traceback
            text = result[1:].decode(errors="replace")
            raise RuntimeError(f"an import worker process failed:\n{text}")
        return load_batch(result[1:])

    def close(self) -> None:
        # The receiver drains what the worker still sends, so the worker reaches the end
        # marker and leaves; its leaving ends the receiver.
        self._outbox.put(None)
        self._feeder.join(timeout=10)
        self._to.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._receiver.join(timeout=10)
        self._from.close()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """For a process that does nothing but import, while it does: the cyclic garbage
    collector runs after 50,000 new objects instead of 700, and does not look at what was
    loaded before. A batch's rows hold no cycles, yet their hundreds of thousands of
    tuples made the collector walk them again and again (a third of the cost of reading
    a batch back)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def default_workers() -> int:
    """One worker per core the process may use but one: the importing process keeps that
    one busy reading the file and writing to the database (and at least one worker)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, 8))


class Preparation:
    """Batches handed to `workers` processes in turn (none: prepared here, at once), given
    back in the order they were handed out. Use as a context manager; leaving it stops the
    workers."""

    def __init__(self, preparer: BatchPreparer, workers: int, ahead: int = 2) -> None:
        """`ahead`: batches in flight per worker; enough to keep the workers busy while
        the importing process writes what it took (its transactions span several)."""
        self._preparer = preparer
        self._workers = [_Worker(preparer) for _ in range(workers)]
        self._ahead = ahead * workers
        self._queue: deque[tuple[_Worker | PreparedBatch, Any]] = deque()
        self._turn = 0

    def __enter__(self) -> Preparation:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._workers:
            worker.close()

    def submit(self, records: Records, now: datetime, tag: Any) -> None:
        """Queue a batch; `tag` (its cursor) comes back with it."""
        if not self._workers:
            self._queue.append((self._preparer.prepare(records, now), tag))
            return
        worker = self._workers[self._turn % len(self._workers)]
        self._turn += 1
        worker.send(records, now)
        self._queue.append((worker, tag))

    def ready(self) -> bool:
        """True when the oldest batch should be taken now (too many in flight, or done)."""
        if not self._queue:
            return False
        oldest = self._queue[0][0]
        done = not isinstance(oldest, _Worker) or oldest.has_result()
        return len(self._queue) > self._ahead or done

    def pending(self) -> int:
        return len(self._queue)

    def take(self) -> tuple[PreparedBatch, Any]:
        """The oldest batch (waiting for it) and its tag."""
        source, tag = self._queue.popleft()
        return (source.take() if isinstance(source, _Worker) else source), tag
