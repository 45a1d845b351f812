"""Markdown tables from the RESULT lines that bench/run_all.py collected.

python bench/tables.py bench/results/run.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "single_send": [
        ("accepted/s", "accepted_per_s"),
        ("p50 ms", "p50_ms"),
        ("p90 ms", "p90_ms"),
        ("p99 ms", "p99_ms"),
        ("max ms", "max_ms"),
        ("errors", "errors"),
        ("server cores", "server_cores"),
        ("postgres cores", "postgres_cores"),
        ("wrk cores", "loadgen_cores"),
        ("other cores", "other_cores"),
        ("target met", "met"),
    ],
    "batch_accept": [
        ("messages", "messages"),
        ("messages/s", "messages_per_s"),
        ("one batch p50 s", "batch_p50_s"),
        ("one batch max s", "batch_max_s"),
        ("server cores", "server_cores"),
        ("postgres cores", "postgres_cores"),
        ("other cores", "other_cores"),
        ("target met", "met"),
    ],
    "throughput": [
        ("messages", "messages"),
        ("intake/s", "intake_per_s"),
        ("delivered/s during intake", "delivered_per_s_during_intake"),
        ("s until all delivered", "seconds_to_all_final"),
        ("accept→delivered/s", "accept_to_delivered_per_s"),
        ("peak final/s (5 s)", "final_per_s_peak_5s"),
        ("server cores", "server_cores"),
        ("postgres cores", "postgres_cores"),
        ("RSS MiB min/max/last", "rss"),
        ("other cores", "other_cores"),
        ("target met", "met"),
    ],
}


def value(result: dict[str, Any], key: str) -> str:
    if key == "rss":
        low, high, last = (result[f"rss_{k}_mib"] for k in ("min", "max", "last"))
        return f"{low:.0f} / {high:.0f} / {last:.0f}"
    if key == "final_per_s_peak_5s" and key not in result:  # its name before
        key = "delivered_per_s_peak_5s"
    item = result.get(key, "")
    if isinstance(item, bool):
        return "yes" if item else "**no**"
    if isinstance(item, float):
        return f"{item:,.0f}" if abs(item) >= 100 else f"{item:g}"
    if isinstance(item, int):
        return f"{item:,}"
    return str(item)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    args = parser.parse_args()
    results = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    for kind, columns in COLUMNS.items():
        rows = [r for r in results if r["benchmark"].startswith(kind)]
        if not rows:
            continue
        print(f"\n### {kind}\n")
        print("| db | " + " | ".join(title for title, _ in columns) + " |")
        print("|---|" + "---:|" * len(columns))
        for r in rows:
            cells = [value(r, key) for _, key in columns]
            print(f"| {r['db']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
