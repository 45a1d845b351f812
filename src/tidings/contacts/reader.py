"""Reading an import file as a stream of records, each with its line number and the byte
offset where the next record starts, so an import can commit a batch together with that
offset and resume from it after a crash.

Memory stays constant: the file is read a line at a time (a line longer than MAX_LINE is
skipped in chunks and reported), never as a whole. CSV: UTF-8 with or without a BOM, else
Windows-1252 (decided from the first 64 KiB); `,` `;` or tab separators, sniffed from the
header; quoted fields may hold newlines. JSON lines: one object per line.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Final, NamedTuple

import orjson

MAX_LINE: Final = 1024 * 1024
SAMPLE: Final = 64 * 1024
DELIMITERS: Final = (",", ";", "\t")
_DELIMITER_NAMES: Final = {",": "comma", ";": "semicolon", "\t": "tab"}


class FileProblem(ValueError):
    """The file as a whole cannot be imported (no header, not text...)."""


@dataclass(frozen=True)
class Layout:
    """How a file is read: its text encoding, its separator (CSV), its header (CSV), and
    where the first record after the header starts."""

    format: str
    encoding: str
    delimiter: str | None
    header: tuple[str, ...]
    data_offset: int
    data_line: int


class Record(NamedTuple):  # a tuple: one is made per row of a file of millions
    line: int  # the line the record starts on (1 is the file's first line)
    next_offset: int  # byte offset just after the record
    next_line: int
    values: dict[str, Any] | list[str] | None
    error: str | None = None  # why the record could not be read (values is None)


class _BadLine(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Lines:
    """Decoded lines from a byte offset, counting lines and bytes as they are taken."""

    def __init__(self, handle: BinaryIO, encoding: str, offset: int, line: int) -> None:
        self._handle = handle
        self._encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.offset = offset
        self.lines_read = line - 1

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self._handle.readline(MAX_LINE + 1)
        if not raw:
            raise StopIteration
        self.offset += len(raw)
        self.lines_read += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while True:  # skip the rest of the line, a chunk at a time
                more = self._handle.readline(MAX_LINE)
                self.offset += len(more)
                if not more or more.endswith(b"\n"):
                    break
            raise _BadLine(
                f"the line is longer than {MAX_LINE // 1024 // 1024} MB; no record is that long"
            )
        try:
            return raw.decode(self._encoding)
        except UnicodeDecodeError:
            name = "UTF-8" if self._encoding == "utf-8" else "Windows-1252"
            raise _BadLine(
                f"the line is not valid {name} text (the file was read as {name}); "
                "save the file as UTF-8"
            ) from None


def detect_encoding(sample: bytes, at_end: bool) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=at_end)  # a character cut at the sample's end is fine
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def sniff_delimiter(header_line: str) -> str:
    """The separator that splits the header into the most columns (`,` on a tie)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best


def layout(path: Path, fmt: str) -> Layout:
    """Read the start of the file: encoding, separator and header."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE)
        at_end = len(sample) < SAMPLE
    if not sample.strip():
        raise FileProblem("the file is empty")
    encoding = detect_encoding(sample, at_end)
    start = len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0
    if fmt == "jsonl":
        return Layout("jsonl", encoding, None, (), start, 1)
    with path.open("rb") as handle:
        handle.seek(start)
        lines = _Lines(handle, encoding, start, 1)
        try:
            first = next(lines)
        except _BadLine as exc:
            raise FileProblem(f"the header (line 1) cannot be read: {exc.reason}") from None
        try:
            delimiter = sniff_delimiter(first)
        except csv.Error as exc:  # a carriage return alone inside it, say
            raise FileProblem(f"the header (line 1) cannot be read: {exc}") from None
        handle.seek(start)
        lines = _Lines(handle, encoding, start, 1)
        try:
            header = next(csv.reader(lines, delimiter=delimiter))
        except (_BadLine, csv.Error, StopIteration) as exc:
            raise FileProblem(f"the header (line 1) cannot be read: {exc}") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise FileProblem("the first line must be a header naming the columns")
    return Layout("csv", encoding, delimiter, tuple(header), lines.offset, lines.lines_read + 1)


def describe(layout_: Layout) -> str:
    encoding = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "cp1252": "Windows-1252"}
    text = encoding.get(layout_.encoding, layout_.encoding)
    if layout_.delimiter is None:
        return f"JSON lines, {text}"
    return f"CSV, {text}, {_DELIMITER_NAMES[layout_.delimiter]}-separated"


def records(path: Path, layout_: Layout, offset: int, line: int) -> Iterator[Record]:
    """The records from `offset` (a record's start) on; `line` is that record's line."""
    with path.open("rb") as handle:
        handle.seek(offset)
        yield from _records_of(_Lines(handle, layout_.encoding, offset, line), layout_)


class Block(NamedTuple):
    """Whole lines of a file in which every line is one record (a CSV without a quote
    character: no field can span lines; JSON lines): read into records by `block_records`
    where they are prepared, which gives the records `records` would."""

    offset: int  # where the first line starts
    line: int  # its line number
    data: bytes


class Piece(NamedTuple):
    """Up to a batch of records: a Block, or (where a record may span lines) the records
    read here; the offset and line just after them."""

    content: Block | list[Record]
    next_offset: int
    next_line: int


def pieces(path: Path, layout_: Layout, offset: int, line: int, rows: int) -> Iterator[Piece]:
    """The records from `offset` (a record's start) on, `rows` lines at a time (or `rows`
    records, where a CSV has a quote character)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        while True:
            taken: list[bytes] = []
            whole = True  # no line longer than MAX_LINE (those are skipped as `records` does)
            for _ in range(rows):
                raw = handle.readline(MAX_LINE + 1)
                if not raw:
                    break
                taken.append(raw)
                if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                    whole = False
                    break
            if not taken:
                return
            data = b"".join(taken)
            if whole and (layout_.format == "jsonl" or b'"' not in data):
                start, first = offset, line
                offset += len(data)
                line += len(taken)
                yield Piece(Block(start, first, data), offset, line)
                continue
            handle.seek(offset)
            lines = _Lines(handle, layout_.encoding, offset, line)
            found = list(islice(_records_of(lines, layout_), rows))
            offset, line = lines.offset, lines.lines_read + 1
            if found:
                yield Piece(found, offset, line)


def block_records(layout_: Layout, block: Block) -> Iterator[Record]:
    """The records of a Block."""
    lines = _Lines(io.BytesIO(block.data), layout_.encoding, block.offset, block.line)
    return _records_of(lines, layout_)


def _records_of(lines: _Lines, layout_: Layout) -> Iterator[Record]:
    if layout_.format == "jsonl":
        return _json_records(lines)
    assert layout_.delimiter is not None
    return _csv_records(lines, layout_.delimiter, len(layout_.header))


def _csv_records(lines: _Lines, delimiter: str, columns: int) -> Iterator[Record]:
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    while True:
        start = lines.lines_read + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except _BadLine as exc:
            yield Record(start, lines.offset, lines.lines_read + 1, None, exc.reason)
            continue
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                reason = "a field is longer than 128 KB (is a closing quote missing?)"
            elif "NUL" in reason:
                reason = "the line contains a NUL character; this is not a text file"
            yield Record(
                start, lines.offset, lines.lines_read + 1, None, f"not valid CSV: {reason}"
            )
            continue
        if not "".join(values).strip():
            continue  # a blank line, or one of empty cells
        if len(values) > columns:
            yield Record(
                start,
                lines.offset,
                lines.lines_read + 1,
                None,
                f"the line has {len(values)} columns but the header has {columns}; "
                "quote values that contain the separator",
            )
            continue
        yield Record(start, lines.offset, lines.lines_read + 1, values)


def _json_records(lines: _Lines) -> Iterator[Record]:
    while True:
        start = lines.lines_read + 1
        try:
            text = next(lines)
        except StopIteration:
            return
        except _BadLine as exc:
            yield Record(start, lines.offset, lines.lines_read + 1, None, exc.reason)
            continue
        if not text.strip():
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            yield Record(start, lines.offset, lines.lines_read + 1, None, "not valid JSON")
            continue
        if not isinstance(value, dict):
            yield Record(
                start, lines.offset, lines.lines_read + 1, None, "each line must be a JSON object"
            )
            continue
        yield Record(start, lines.offset, lines.lines_read + 1, value)
