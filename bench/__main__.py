"""`make bench`: run every bench module, each in its own process (each sets up Django with the
database and broker it measures), print one table and write it to docs/performance.md."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.table import Row, render

# One line per module; each has run() -> list[Row]. Modules not (yet) written are left out.
MODULES = [
    "bench.signing",
    "bench.refresh",
    "bench.single_flight",
    "bench.token_api",
    "bench.pages",
    "bench.memory",
]
REPORT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
ROWS_MARK = "BENCH-ROWS:"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_module(name: str) -> list[Row]:
    """Run one module's run() in a child process; a module that fails gives a row saying so."""
    started = time.monotonic()
    child = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.one", name], capture_output=True, text=True, check=False
    )
    took = time.monotonic() - started
    print(f"{name}: {took:.0f} s", file=sys.stderr, flush=True)
    for line in reversed(child.stdout.splitlines()):
        if line.startswith(ROWS_MARK):
            return [Row(**row) for row in json.loads(line[len(ROWS_MARK) :])]
    tail = (child.stderr or child.stdout).strip().splitlines()[-1:] or ["no output"]
    print(child.stderr[-4000:], file=sys.stderr)
    return [Row(name, f"failed: {tail[0][:200]}", "runs", False)]


def main() -> None:
    rows: list[Row] = []
    started = time.monotonic()
    for name in MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        rows += run_module(name)
    table = render(rows)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"{cpu_model()}, {cores()} cores, Python {platform.python_version()}; {stamp}"
    print(f"\n{header}\n\n{table}\n\n{len(rows)} rows in {time.monotonic() - started:.0f} s")
    REPORT.write_text(
        "# Performance\n\n"
        "Written by `make bench` (bench/): every row is measured side by side in the same run, "
        "against its target.\n\n"
        f"Machine: {header}.\n\n{table}\n"
    )
    if not all(row.met for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
