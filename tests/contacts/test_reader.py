"""Reading import files: every record's cursor (byte offset, line) resumes exactly there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidings.contacts.reader import MAX_LINE, FileProblem, layout, records

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
    for data in (b"", b"  \n\n", b",,,\n"):
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
