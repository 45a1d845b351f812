"""Reading import files: every record's cursor (byte offset, line) resumes exactly there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tidings.contacts.reader import (
    MAX_LINE,
    Block,
    FileProblem,
    Record,
    block_records,
    layout,
    pieces,
    records,
)

CSV = (
    "\ufeffnumber;name;notes\r\n"
    '+31612345678;Zoë;"two\nlines; and a separator"\r\n'
    "\r\n"
    "+31612345679;Ana;plain\r\n"
    ";;\r\n"
    '+31612345680;Bo;"a ""quoted"" word"\r\n'
)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_every_cursor_resumes_the_same_records(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "f.csv"
    text = CSV if encoding == "utf-8" else CSV.removeprefix("\ufeff")
    path.write_bytes(text.encode(encoding))
    shape = layout(path, "csv")
    assert shape.delimiter == ";" and shape.header == ("number", "name", "notes")
    assert shape.encoding == ("utf-8-sig" if encoding == "utf-8" else "cp1252")
    everything = list(records(path, shape, shape.data_offset, shape.data_line))
    assert [(r.line, r.values) for r in everything] == [
        (2, ["+31612345678", "Zoë", "two\nlines; and a separator"]),
        (5, ["+31612345679", "Ana", "plain"]),
        (7, ["+31612345680", "Bo", 'a "quoted" word']),
    ]
    assert everything[-1].next_offset == path.stat().st_size
    for i, record in enumerate(everything):
        rest = list(records(path, shape, record.next_offset, record.next_line))
        assert rest == everything[i + 1 :]


def test_a_line_longer_than_the_limit_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"number\n" + b"9" * (MAX_LINE * 3 + 5) + b"\n+31612345678\n")
    shape = layout(path, "csv")
    first, second = records(path, shape, shape.data_offset, shape.data_line)
    assert first.values is None and first.error and "longer than" in first.error
    assert (second.line, second.values) == (3, ["+31612345678"])


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    for data in (b"", b"  \n\n", b",,,\n", b"\r0", b"number\rname\n"):  # a lone CR in it
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        with pytest.raises(FileProblem):
            layout(path, "csv")


def test_json_lines_cursor(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"number": "+31612345678"}\n\nnot json\n{"number": "+31612345679"}')
    shape = layout(path, "jsonl")
    got = list(records(path, shape, shape.data_offset, shape.data_line))
    assert [(r.line, r.error) for r in got] == [(1, None), (3, "not valid JSON"), (4, None)]
    assert list(records(path, shape, got[0].next_offset, got[0].next_line)) == got[1:]


def _from_pieces(path: Path, fmt: str, rows: int) -> tuple[list[tuple[Any, ...]], int]:
    """Every record as `pieces` hands it out (raw lines read where they are prepared),
    and the offset after the last piece."""
    shape = layout(path, fmt)
    found: list[tuple[Any, ...]] = []
    end = shape.data_offset
    for piece in pieces(path, shape, shape.data_offset, shape.data_line, rows):
        content: list[Record] | Iterator[Record] = (
            block_records(shape, piece.content)
            if isinstance(piece.content, Block)
            else piece.content
        )
        found += [(r.line, r.values, r.error) for r in content]
        end = piece.next_offset
    return found, end


@pytest.mark.parametrize("rows", [1, 2, 3, 1000])
def test_pieces_give_the_records_that_records_gives(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "f.csv"
    lines = [b"number,name,notes\n"]
    for i in range(20):
        lines.append(b"+3161234%04d,Name %d,plain\n" % (i, i))
        if i == 4:
            lines.append(b'+31699999999,"Quoted, with\na line break",x\n')
        if i == 9:
            lines += [b"\n", b",,\n", b"\xff\xfe not text\n", b"a,b,c,d\n", b"+31612\rx,y\n"]
        if i == 14:
            lines.append(b"9" * (MAX_LINE + 10) + b"\n")
    lines.append(b"+31688888888,no newline at the end,")
    path.write_bytes(b"".join(lines))
    shape = layout(path, "csv")
    expected = [
        (r.line, r.values, r.error)
        for r in records(path, shape, shape.data_offset, shape.data_line)
    ]
    assert len(expected) == 26  # the quoted record spans two lines; blank ones are skipped
    got, end = _from_pieces(path, "csv", rows)
    assert got == expected
    assert end == path.stat().st_size


def test_json_lines_pieces(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"number": "+31612345678"}\n\nnot json\n[1]\n{"number": "+31612345679"}')
    shape = layout(path, "jsonl")
    expected = [
        (r.line, r.values, r.error)
        for r in records(path, shape, shape.data_offset, shape.data_line)
    ]
    for rows in (1, 2, 10):
        assert _from_pieces(path, "jsonl", rows)[0] == expected
