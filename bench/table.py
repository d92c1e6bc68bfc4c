"""One row of `make bench`'s table, and the table: what was measured, against what target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    work: str
    measured: str
    target: str
    met: bool


def render(rows: list[Row]) -> str:
    """The rows as one markdown table."""
    lines = ["| work | measured | target | met |", "|---|---|---|---|"]
    for row in rows:
        cells = (row.work, row.measured, row.target, "yes" if row.met else "**no**")
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
