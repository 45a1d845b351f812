"""The per-row work of an import batch that needs no database: checking each record and
turning it into columns (ciphertexts, blind indexes, the number's region, carrier and time
zones, the id a new contact gets). It is independent between rows, so a large import runs
it in worker processes while the importing process reads the file and writes batches.

`Preparation` hands batches out and gives them back in the order they were read, so line
numbers, errors and the import's cursor are the same as when one process does it all; at
most a few batches are in flight, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tidings.contacts.importer import ParsedRow, Prepared, RowError, RowParser
from tidings.contacts.reader import Record
from tidings.contacts.records import ColumnCodec
from tidings.core.ids import new_ids

# A record as it travels to a worker: (line, values, why it could not be read).
RawRecord = tuple[int, "dict[str, Any] | list[str] | None", "str | None"]


@dataclass
class PreparedBatch:
    rows: list[Prepared] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    records: int = 0


class BatchPreparer:
    def __init__(self, parser: RowParser, codec: ColumnCodec, account_id: str) -> None:
        self._parser = parser
        self._codec = codec
        self._account = account_id

    def prepare(self, records: Sequence[RawRecord], now: datetime) -> PreparedBatch:
        batch = PreparedBatch(records=len(records))
        parse = self._parser.parse
        parsed: list[ParsedRow] = []
        for line, values, error in records:
            result = parse(Record(line, 0, 0, values, error))
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
        fields_enc = None
        indexes = None
        if given:
            kept = {k: v for k, v in given.items() if v is not None}
            fields_enc = codec.columns(account, {}, kept)["fields_enc"]
            indexes = codec.field_indexes(account, given)
        return Prepared(
            row.line,
            index,
            contact_id,
            codec.columns(account, attributes, None, index),
            given,
            indexes,
            fields_enc,
            values.get("tags"),
            values.get("consent"),
        )


_NOT_COLUMNS = frozenset(("fields", "tags", "consent"))

# --- running it in worker processes -----------------------------------------------------

_worker_preparer: BatchPreparer | None = None


def _install(preparer: BatchPreparer) -> None:
    global _worker_preparer
    _worker_preparer = preparer


def _prepare_in_worker(records: Sequence[RawRecord], now: datetime) -> PreparedBatch:
    assert _worker_preparer is not None, "the worker was started without its preparer"
    return _worker_preparer.prepare(records, now)


def default_workers() -> int:
    """One worker per core the process may use but one: the importing process keeps that
    one busy reading the file and writing to the database (and at least one worker)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, 8))


class Preparation:
    """Batches handed to `workers` processes (none: prepared here, at once), given back
    in order. Use as a context manager; leaving it stops the workers."""

    def __init__(self, preparer: BatchPreparer, workers: int) -> None:
        self._preparer = preparer
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                # spawn, not fork: the importing process may hold threads and connections
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_install,
                initargs=(preparer,),
            )
        self._ahead = 2 * workers  # batches in flight: enough to keep every worker busy
        self._queue: deque[tuple[Future[PreparedBatch], Any]] = deque()

    def __enter__(self) -> Preparation:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, records: Sequence[RawRecord], now: datetime, tag: Any) -> None:
        """Queue a batch; `tag` (its cursor) comes back with it."""
        if self._pool is None:
            done: Future[PreparedBatch] = Future()
            done.set_result(self._preparer.prepare(records, now))
            self._queue.append((done, tag))
        else:
            self._queue.append((self._pool.submit(_prepare_in_worker, records, now), tag))

    def ready(self) -> bool:
        """True when the oldest batch should be taken now (too many in flight, or done)."""
        if not self._queue:
            return False
        return len(self._queue) > self._ahead or self._queue[0][0].done()

    def pending(self) -> int:
        return len(self._queue)

    def take(self) -> tuple[PreparedBatch, Any]:
        """The oldest batch (waiting for it) and its tag."""
        future, tag = self._queue.popleft()
        return future.result(), tag
