"""axe-core in the browser tests: the critical and serious accessibility violations of a page.

axe-core comes from npm (package.json) and is read from node_modules, never downloaded at test
time. It is run into the page through Playwright's page.evaluate, which the DevTools protocol
evaluates outside the page's Content Security Policy: a <script> tag (page.add_script_tag) would
be inline code that script-src 'self' refuses, and the refusal would fail the test. So the page
is checked under the very policy it is served with, and nothing is added to its markup."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# What a test fails on; "moderate" and "minor" are left to review.
FAILING = ("critical", "serious")
# WCAG 2.2 A and AA and axe's best practices (skip link, landmarks, headings...).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@cache
def axe_source() -> str:
    if not AXE.exists():
        raise FileNotFoundError(f"{AXE} is missing: run `npm ci` (make install) to install axe-core")
    return AXE.read_text(encoding="utf-8")


def violations(page: Page) -> list[dict[str, Any]]:
    """Every violation axe finds on the page as it is now, as axe.run reports them."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # A function wrapped around the source: page.evaluate calls it, so the file is run as a
        # script whatever it begins with (a licence comment, a statement).
        page.evaluate(f"() => {{\n{axe_source()}\n}}")
    result: dict[str, Any] = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        TAGS,
    )
    return list(result["violations"])


def describe(violation: dict[str, Any]) -> str:
    nodes = violation["nodes"]
    first = " ".join(str(part) for part in nodes[0]["target"]) if nodes else "-"
    return f"{violation['id']}: {violation['help']} ({len(nodes)} nodes: {first})"


def serious_violations(page: Page) -> list[str]:
    """'rule id: help (n nodes: first selector)' for each critical or serious violation."""
    return [describe(violation) for violation in violations(page) if violation["impact"] in FAILING]
