"""Summarise a py-spy raw (collapsed stacks) profile: where the server spends its time.

    python bench/profile_summary.py bench/results/single.txt [--top 25]

Prints, as shares of all samples: self time by function, inclusive time by function of
the tidings package, and self time by library (tidings, sqlalchemy, psycopg, ...).
Recordings made with `--gil` (the default in bench/common.py) only sample the thread
holding the GIL, so the shares add up to the Python CPU time of the process.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")
LIBRARIES = (
    "tidings",
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "anyio",
    "cryptography",
    "phonenumbers",
    "prometheus_client",
    "orjson",
    "structlog",
    "argon2",
    "httptools",
    "uvloop",
    "asyncio",
    "concurrent",
    "threading",
)


def library(file: str) -> str:
    head = file.split("/", 1)[0]
    if head in LIBRARIES:
        return head
    if "/" not in file:
        return "stdlib"
    return head


def parse(path: Path) -> list[tuple[str, list[str], int]]:
    """(thread group, frames, samples) per line; the group is the thread name sans digits."""
    stacks: list[tuple[str, list[str], int]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        thread = ""
        if frames and frames[0].startswith(("thread (", "process ")):
            thread = frames[0].partition(": ")[2] or frames[0]
            frames = frames[1:]
        stacks.append((re.sub(r"[_-]?\d+$", "", thread), frames, int(count)))
    return stacks


def split_frame(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame)
    if match is None:
        return frame, ""
    return match["func"], match["file"]


WRAPPERS = ("tidings/cli/", "tidings/api/middleware.py")


def activity(frames: list[str]) -> str:
    """The outermost tidings function of a stack, past the server's entry and middleware.

    Stacks with none are the HTTP stack's own work (uvicorn, starlette, fastapi) or the
    event loop's, named by the innermost library.
    """
    for frame in frames:
        func, file = split_frame(frame)
        if file.startswith("tidings/") and not file.startswith(WRAPPERS):
            return f"{func}  ({file})"
    if not frames:
        return "?"
    func, file = split_frame(frames[-1])
    if file.startswith("tidings/"):
        return f"{func}  ({file})"
    return f"no tidings frame: {library(file)}"


def summarise(path: Path, top: int) -> str:
    stacks = parse(path)
    total = sum(count for _, _, count in stacks)
    if total == 0:
        return f"{path}: no samples"
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    for thread, frames, count in stacks:
        threads[thread or "?"] += count
        activities[activity(frames)] += count
        if not frames:
            continue
        func, file = split_frame(frames[-1])
        self_time[f"{func}  ({file})"] += count
        libraries[library(file)] += count
        seen: set[str] = set()
        for frame in frames:
            func, file = split_frame(frame)
            if file.startswith("tidings/") and frame not in seen:
                seen.add(frame)
                inclusive[f"{func}  ({file})"] += count

    def table(
        title: str, counter: Counter[str], limit: int, what: str = "function (file)"
    ) -> list[str]:
        lines = [f"\n{title}", f"{'share':>7}  {what}"]
        for name, count in counter.most_common(limit):
            lines.append(f"{100 * count / total:6.1f}%  {name}")
        return lines

    out = [f"{path}: {total} samples"]
    out += table("samples by thread", threads, 10, "thread name (sans number)")
    out += table("by activity (outermost tidings function)", activities, 15, "activity")
    out += table("self time by library", libraries, 15, "library")
    out += table("self time by function", self_time, top)
    out += table("inclusive time, tidings functions", inclusive, top)
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profiles", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.profiles:
        print(summarise(path, args.top))
        print()


if __name__ == "__main__":
    main()
