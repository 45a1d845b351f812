"""The record of processing written out: JSON, CSV (one row per entry) or Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from tidings.core.errors import InvalidInput

CSV_HEADER = ("record", "article", "element", "name", "details")


def _columns(entries: list[dict[str, str]]) -> list[str]:
    """The keys of the entries in first-seen order, without those empty in every entry."""
    keys: list[str] = []
    for entry in entries:
        keys += [k for k in entry if k not in keys]
    return [k for k in keys if any(e.get(k) for e in entries)]


def _details(entry: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in entry.items() if k != "name" and v)


def to_json(ropa: dict[str, Any]) -> str:
    return json.dumps(ropa, indent=2, ensure_ascii=False) + "\n"


def to_csv(ropa: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    policy = ropa["policy"]
    region = ropa["region"]
    meta = [
        ("Controller", ropa["controller"]),
        ("Policy", f"{policy['name']} version {policy['version']} ({policy['published']})"),
        ("Region", f"{region['name']} ({region['code']}); {region['law']}"),
        ("Supervisory authority", (ropa["authority"] or {}).get("name") or "none recorded"),
        ("Generated", ropa["generated_at"]),
    ]
    for name, value in meta:
        writer.writerow(("deployment", "", "", name, value))
    for record in ropa["records"]:
        for element in record["elements"]:
            for entry in element["entries"]:
                writer.writerow(
                    (
                        record["role"],
                        element["article"],
                        element["title"],
                        entry.get("name", ""),
                        _details(entry),
                    )
                )
    for problem in ropa["problems"]:
        writer.writerow(("problem", "", "", "", problem))
    return out.getvalue()


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def to_markdown(ropa: dict[str, Any]) -> str:
    policy = ropa["policy"]
    region = ropa["region"]
    authority = ropa["authority"]
    controller = ropa["controller"].rstrip(".")
    lines = [
        f"# {ropa['title']}",
        "",
        f"*{controller}. Generated {ropa['generated_at']} from the data map, the "
        f"policy {policy['name']!r} version {policy['version']} (published "
        f"{policy['published']}) and the registers.*",
        "",
        f"- Region where the data lives: **{region['name']}** ({region['code']}); {region['law']}",
        "- Supervisory authority: "
        + (
            ", ".join(x for x in (authority["name"], authority["country"], authority["url"]) if x)
            if authority
            else "none recorded"
        ),
        "- Role per data set: "
        + ", ".join(f"{name} ({role})" for name, role in ropa["roles"].items() if role != "none"),
    ]
    for record in ropa["records"]:
        lines += ["", f"## {record['title']}", ""]
        lines.append(f"Data sets: {', '.join(record['data_sets']) or 'none'}.")
        for element in record["elements"]:
            lines += ["", f"### ({element['ref']}) {element['title']} — {element['article']}", ""]
            columns = _columns(element["entries"])
            lines.append("| " + " | ".join(c.replace("_", " ") for c in columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for entry in element["entries"]:
                lines.append("| " + " | ".join(_cell(entry.get(c, "")) for c in columns) + " |")
    if ropa["problems"]:
        lines += ["", "## Problems to fix", ""]
        lines += [f"- {p}" for p in ropa["problems"]]
    return "\n".join(lines) + "\n"


FORMATS: dict[str, tuple[Callable[[dict[str, Any]], str], str]] = {
    "json": (to_json, "application/json"),
    "csv": (to_csv, "text/csv; charset=utf-8"),
    "md": (to_markdown, "text/markdown; charset=utf-8"),
}


def known_format(fmt: str) -> str:
    """`fmt` in lowercase, or InvalidInput naming the field and the formats there are."""
    if fmt.lower() not in FORMATS:
        raise InvalidInput(
            f"'format' {fmt!r} is not known; use one of: {', '.join(FORMATS)}",
            code="unknown_format",
            extra={"field": "format"},
        )
    return fmt.lower()


def render(ropa: dict[str, Any], fmt: str) -> tuple[str, str]:
    """(text, media type) of the record in `fmt`; an unknown format is refused naming it."""
    writer, media_type = FORMATS[known_format(fmt)]
    return writer(ropa), media_type
