"""Run one bench module's run() and print its rows as JSON on the last line (bench/__main__.py
runs each module so, in its own process)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys

from bench.__main__ import ROWS_MARK


def main() -> None:
    module = importlib.import_module(sys.argv[1])
    rows = module.run()
    print(ROWS_MARK + json.dumps([dataclasses.asdict(row) for row in rows]), flush=True)


if __name__ == "__main__":
    main()
