"""Contact import jobs: an upload spooled to disk, checked, then imported in batches.

Each batch commits its contacts, its refused rows and the job's cursor (the byte offset
and line of the next record) in one transaction. A worker that dies loses at most the
batch it had not committed; whoever takes the job next (after its lease ran out, or at
once on a node's start) resumes from the cursor, and the job counts the resumption. So an
import is never half-applied: every row up to the cursor is imported or reported, and
nothing after it is written.
"""

from __future__ import annotations

import builtins
import csv
import io
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tidings.contacts.fields import load_schema
from tidings.contacts.import_consent import ConsentRecorder
from tidings.contacts.importer import BatchWriter
from tidings.contacts.lists import ListService
from tidings.contacts.mapping import check_target, parse_map_options, resolve
from tidings.contacts.prepare import (
    BatchPreparer,
    Preparation,
    PreparedBatch,
    Records,
    default_workers,
)
from tidings.contacts.reader import Block, FileProblem, Layout, describe, layout, pieces
from tidings.contacts.records import ContactCodec
from tidings.contacts.rows import RowParser
from tidings.core.clock import Clock, iso
from tidings.core.errors import Conflict, InvalidInput, NotFound
from tidings.core.ids import is_valid_id, new_id
from tidings.domain.contacts import neutralise
from tidings.pipeline.opt_out import OptOuts
from tidings.store import contact_imports as store
from tidings.store.database import Database

log = logging.getLogger("tidings.imports")
BATCH_ROWS = 2000  # records per batch a worker prepares
COMMIT_ROWS = 10000  # records per transaction (and cursor step): fewer index page writes
SQLITE_CACHE_KIB = 56 * 1024  # KiB; SQLite's default is 2 MiB
# From this much left to read on, the rows are checked and encrypted in worker processes.
PARALLEL_FROM_BYTES = 4 * 1024 * 1024
LEASE = timedelta(seconds=30)
SHOWN_ERRORS = 100
FORMATS = ("csv", "jsonl")
Progress = Callable[[dict[str, Any]], None]


def import_not_found(import_id: str) -> NotFound:
    return NotFound(f"no import {import_id[:64]!r} in this account", code="import_not_found")


class _LeaseLost(Exception):
    """Another worker took the job (this one was too slow to renew its lease)."""


class _Unwritten:
    """Prepared batches taken but not written yet, and the cursor after the last one."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.batch = PreparedBatch()
        self.cursor = (0, 0)

    def add(self, batch: PreparedBatch, cursor: tuple[int, int]) -> None:
        self.batch.rows += batch.rows
        self.batch.errors += batch.errors
        self.batch.records += batch.records
        self.cursor = cursor


@dataclass
class _Counts:
    created: int
    updated: int
    failed: int


class ImportService:
    def __init__(
        self,
        db: Database,
        codec: ContactCodec,
        clock: Clock,
        lists: ListService,
        spool_dir: Path,
        owner: str,
        opt_outs: OptOuts,
        workers: int | None = None,
        parallel_from_bytes: int = PARALLEL_FROM_BYTES,
    ) -> None:
        self._db = db
        self.workers = default_workers() if workers is None else workers
        self.parallel_from_bytes = parallel_from_bytes
        self._codec = codec
        self._clock = clock
        self._lists = lists
        self.spool_dir = spool_dir
        self._owner = owner
        self._opt_outs = opt_outs
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- creating -------------------------------------------------------------------------
    def new_upload(self) -> tuple[str, Path]:
        """An id for a new import and the (0600) file its upload is spooled to."""
        import_id = new_id("imp", self._clock.now())
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{import_id}.upload"
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return import_id, path

    def create(
        self,
        account_id: str,
        import_id: str,
        spool: Path,
        *,
        filename: str | None = None,
        fmt: str | None = None,
        list_name: str | None = None,
        mapping: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Check the spooled file's header and the options, then queue the job."""
        try:
            return self._create(account_id, import_id, spool, filename, fmt, list_name, mapping)
        except BaseException:
            spool.unlink(missing_ok=True)
            raise

    def _create(
        self,
        account_id: str,
        import_id: str,
        spool: Path,
        filename: str | None,
        fmt: str | None,
        list_name: str | None,
        mapping: Sequence[str],
    ) -> dict[str, Any]:
        fmt = fmt or _format_from_name(filename)
        if fmt not in FORMATS:
            raise InvalidInput(
                f"'format' must be csv or jsonl (JSON lines), not {fmt!r}",
                code="invalid_format",
                extra={"field": "format"},
            )
        explicit = parse_map_options(mapping)
        list_id = self._lists.by_name(account_id, list_name)["id"] if list_name else None
        try:
            shape = layout(spool, fmt)
        except FileProblem as exc:
            raise InvalidInput(
                f"'file' cannot be imported: {exc}",
                code="unreadable_file",
                extra={"field": "file"},
            ) from None
        with self._db.read() as conn:
            schema = load_schema(conn, account_id)
        columns: list[tuple[str, str]]
        if shape.format == "csv":
            columns = list(resolve(shape.header, explicit, schema).items())
        else:  # JSON lines: each line's keys are matched as it is read
            columns = [(c, check_target(t, schema, c)) for c, t in explicit.items()]
        now = self._clock.now()
        with self._db.write() as conn:
            store.insert_job(
                conn,
                {
                    "id": import_id,
                    "account_id": account_id,
                    "state": "pending",
                    "format": shape.format,
                    "filename": "".join(c for c in filename or "" if c.isprintable())[:255] or None,
                    "list_id": list_id,
                    "mapping": orjson.dumps(columns).decode(),
                    "spool_path": str(spool),
                    "encoding": shape.encoding,
                    "delimiter": shape.delimiter,
                    "size_bytes": spool.stat().st_size,
                    "offset_bytes": shape.data_offset,
                    "next_line": shape.data_line,
                    "rows_created": 0,
                    "rows_updated": 0,
                    "rows_failed": 0,
                    "resumed": 0,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        self._wake.set()
        return self.get(account_id, import_id)

    # --- reading --------------------------------------------------------------------------
    def get(self, account_id: str, import_id: str) -> dict[str, Any]:
        with self._db.read() as conn:
            row = self._row(conn, account_id, import_id)
            shown = store.errors(conn, import_id, limit=SHOWN_ERRORS)
        resource = _resource(row)
        resource["errors"] = [_error(e) for e in shown]
        return resource

    def list(self, account_id: str) -> builtins.list[dict[str, Any]]:
        with self._db.read() as conn:
            return [_resource(r) for r in store.list_jobs(conn, account_id)]

    def errors_csv(self, account_id: str, import_id: str) -> Iterator[str]:
        """The refused rows as CSV (line, column, reason), read a thousand at a time."""
        with self._db.read() as conn:
            self._row(conn, account_id, import_id)
        yield "line,column,reason\r\n"
        after = 0
        while True:
            with self._db.read() as conn:
                rows = store.errors(conn, import_id, after_id=after)
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in rows:
                writer.writerow([row.line, neutralise(row.column or ""), neutralise(row.reason)])
            yield buffer.getvalue()
            if len(rows) < 1000:
                return
            after = rows[-1].id

    def _row(self, conn: Any, account_id: str, import_id: str) -> Any:
        row = store.get_job(conn, account_id, import_id) if is_valid_id(import_id, "imp") else None
        if row is None:
            raise import_not_found(import_id)
        return row

    # --- running --------------------------------------------------------------------------
    def run(
        self,
        import_id: str,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Run (or resume) a job to its end; returns it. Raises Conflict when another worker
        holds it."""
        now = self._clock.now()
        with self._db.write() as conn:
            before = store.claim(conn, import_id, self._owner, now, now + LEASE)
        if before is None:
            with self._db.read() as conn:
                row = store.job_by_id(conn, import_id)
            if row is None:
                raise import_not_found(import_id)
            if row.state in ("completed", "failed"):
                return _resource(row)
            raise Conflict(
                f"import {import_id} is being run by another worker (held until "
                f"{iso(row.lease_until)}); if that worker is gone, try again after that",
                code="import_running",
            )
        resumed = before.state == "running"
        if resumed:
            with self._db.write() as conn:
                store.advance(conn, import_id, self._owner, {"resumed": before.resumed + 1})
        try:
            self._process(before, progress, stop or self._stop)
        except FileNotFoundError:
            self._fail(import_id, "the uploaded file is gone; upload it again")
        return self.get(before.account_id, import_id)

    def _process(self, job: Any, progress: Progress | None, stop: threading.Event) -> None:
        account_id = job.account_id
        columns = [tuple(pair) for pair in orjson.loads(job.mapping)]
        with self._db.read() as conn:
            schema = load_schema(conn, account_id)
        shape = Layout(
            job.format,
            job.encoding,
            job.delimiter,
            tuple(c for c, _ in columns),
            job.offset_bytes,
            job.next_line,
        )
        parser = RowParser(columns, schema)
        number_column = next((c for c, t in columns if t == "number"), "number")
        has_fields = bool(schema) and (
            job.format == "jsonl" or any(t.startswith("fields.") for _, t in columns)
        )
        writer = BatchWriter(
            self._codec,
            account_id,
            job.id,
            job.list_id,
            has_fields,
            number_column,
            ConsentRecorder(self._opt_outs, job.id, job.filename),
        )
        counts = _Counts(job.rows_created, job.rows_updated, job.rows_failed)
        left = job.size_bytes - job.offset_bytes
        workers = self.workers if left >= self.parallel_from_bytes else 0
        codec = self._codec.sealer(account_id) if workers else self._codec
        preparer = BatchPreparer(parser, codec, account_id, shape)
        cursor = (job.offset_bytes, job.next_line)
        held = _Unwritten()
        path = Path(job.spool_path)
        with Preparation(preparer, workers, ahead=COMMIT_ROWS // BATCH_ROWS + 2) as preparation:
            # Lines without a quote go out as they are (parsed where they are prepared).
            for piece in pieces(path, shape, job.offset_bytes, job.next_line, BATCH_ROWS):
                content: Records = (
                    piece.content
                    if isinstance(piece.content, Block)
                    else [(r.line, r.values, r.error) for r in piece.content]
                )
                cursor = (piece.next_offset, piece.next_line)
                preparation.submit(content, self._clock.now(), (cursor, False))
                while preparation.ready():
                    if not self._next(job, writer, preparation, held, counts, progress, stop):
                        return
            preparation.submit([], self._clock.now(), (cursor, True))
            while preparation.pending():
                if not self._next(job, writer, preparation, held, counts, progress, stop):
                    return
        Path(job.spool_path).unlink(missing_ok=True)  # personal data: gone once imported

    def _next(
        self,
        job: Any,
        writer: BatchWriter,
        preparation: Preparation,
        unwritten: _Unwritten,
        counts: _Counts,
        progress: Progress | None,
        stop: threading.Event,
    ) -> bool:
        """Take the oldest prepared batch; write what was taken once it is COMMIT_ROWS
        records or the end. False when the import stops here (the lease was lost, or
        `stop` was asked and the job released)."""
        batch, (cursor, last) = preparation.take()
        unwritten.add(batch, cursor)
        if unwritten.batch.records < COMMIT_ROWS and not last and not stop.is_set():
            return True
        if not self._commit(job, writer, unwritten.batch, counts, unwritten.cursor, last):
            return False
        unwritten.clear()
        if progress is not None:
            progress(self._progress(job, counts, cursor))
        if stop.is_set() and not last:
            with self._db.write() as conn:
                store.release(conn, job.id, self._owner)
            return False
        return True

    def _commit(
        self,
        job: Any,
        writer: BatchWriter,
        batch: PreparedBatch,
        counts: _Counts,
        cursor: tuple[int, int],
        last: bool,
    ) -> bool:
        """One transaction: the batch's contacts, its errors, the cursor. False when the
        lease was lost (another worker took the job): nothing of this batch is written."""
        now = self._clock.now()
        try:
            result = self._write(job, writer, batch, counts, cursor, last, now)
        except _LeaseLost:
            return False
        counts.created += result[0]
        counts.updated += result[1]
        counts.failed += result[2]
        return True

    def _write(
        self,
        job: Any,
        writer: BatchWriter,
        batch: PreparedBatch,
        counts: _Counts,
        cursor: tuple[int, int],
        last: bool,
        now: datetime,
    ) -> tuple[int, int, int]:
        with self._db.write() as conn:
            if self._db.is_sqlite and batch.records >= COMMIT_ROWS:
                # Most of a large import's writes land on random pages of the number and
                # email indexes: a larger page cache (for this connection) keeps them from
                # being read and spilled again and again. Released when the pool closes.
                conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            result = writer.write(conn, batch.rows, now)
            refused = sorted(batch.errors + result.errors, key=lambda e: e.line)
            store.insert_errors(
                conn,
                [
                    {"import_id": job.id, "line": e.line, "column": e.column, "reason": e.reason}
                    for e in refused
                ],
            )
            values: dict[str, Any] = {
                "offset_bytes": cursor[0],
                "next_line": cursor[1],
                "rows_created": counts.created + result.created,
                "rows_updated": counts.updated + result.updated,
                "rows_failed": counts.failed + len({e.line for e in refused}),
                "updated_at": now,
                "lease_until": now + LEASE,
            }
            if last:
                values.update(
                    state="completed", finished_at=now, lease_owner=None, lease_until=None
                )
            if not store.advance(conn, job.id, self._owner, values):
                raise _LeaseLost(job.id)  # rolls the whole batch back
        return result.created, result.updated, len({e.line for e in refused})

    def _fail(self, import_id: str, reason: str) -> None:
        now = self._clock.now()
        with self._db.write() as conn:
            store.advance(
                conn,
                import_id,
                self._owner,
                {
                    "state": "failed",
                    "error": reason,
                    "finished_at": now,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_until": None,
                },
            )

    @staticmethod
    def _progress(job: Any, counts: _Counts, cursor: tuple[int, int]) -> dict[str, Any]:
        return {
            "id": job.id,
            "size_bytes": job.size_bytes,
            "processed_bytes": cursor[0],
            "next_line": cursor[1],
            "rows": {"created": counts.created, "updated": counts.updated, "failed": counts.failed},
        }

    # --- the background worker ------------------------------------------------------------
    def start(self) -> None:
        """Run queued and abandoned imports in a thread until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="contact-imports", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def release(self, import_id: str) -> None:
        """Let go of a job this worker holds (interrupted: it resumes from its cursor)."""
        with self._db.write() as conn:
            store.release(conn, import_id, self._owner)

    def account_of(self, import_id: str) -> str | None:
        with self._db.read() as conn:
            row = store.job_by_id(conn, import_id) if is_valid_id(import_id, "imp") else None
        return None if row is None else str(row.account_id)

    def release_all(self) -> None:
        """At a single node's start: every lease is from a process that no longer runs."""
        with self._db.write() as conn:
            store.release_all(conn)

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._db.read() as conn:
                due = store.claimable(conn, self._clock.now())
            for import_id in due:
                if self._stop.is_set():
                    return
                try:
                    self.run(import_id)
                except Conflict:
                    continue  # another node took it
                except Exception:  # the job is retried once its lease runs out
                    log.exception("contact import %s stopped", import_id)
            self._wake.wait(timeout=LEASE.total_seconds() / 2 if not due else 0)


def _clean_filename(filename: str | None) -> str | None:
    """The upload's name as a database can hold it (no control characters or surrogates)."""
    text = (filename or "").encode("utf-8", "replace").decode("utf-8")
    return "".join(c for c in text if ord(c) >= 0x20 and ord(c) != 0x7F)[:255] or None


def _format_from_name(filename: str | None) -> str:
    name = (filename or "").lower()
    return "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else "csv"


def _error(row: Any) -> dict[str, Any]:
    return {"line": row.line, "column": row.column, "reason": row.reason}


def _resource(row: Any) -> dict[str, Any]:
    mapping = {column: target or None for column, target in orjson.loads(row.mapping)}
    size = row.size_bytes or 0
    shape = Layout(row.format, row.encoding or "", row.delimiter, (), 0, 0)
    return {
        "id": row.id,
        "state": row.state,
        "format": row.format,
        "read_as": describe(shape),
        "filename": row.filename,
        "list_id": row.list_id,
        "mapping": mapping,
        "size_bytes": size,
        "processed_bytes": row.offset_bytes,
        "progress": 1.0
        if row.state == "completed"
        else round(row.offset_bytes / size, 4)
        if size
        else 0.0,
        "next_line": row.next_line,
        "rows": {
            "created": row.rows_created,
            "updated": row.rows_updated,
            "failed": row.rows_failed,
        },
        "resumed": row.resumed,
        "error": row.error,
        "errors_url": f"/v1/contacts/imports/{row.id}/errors.csv",
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "finished_at": iso(row.finished_at),
    }
