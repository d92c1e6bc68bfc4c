"""Browser tests: a real Chromium from Debian, driven by pytest-playwright against live_server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, expect

# pytest-playwright keeps an asyncio loop running in the main thread, so Django
# would refuse the ORM calls that live_server and the tests make there.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).parent
# SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE stay as in production: Chromium counts
# http://localhost (live_server's host) as a secure context and keeps Secure cookies.


# First, so that -m "not browser" sees the marker when it deselects.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        # Skipping in CI would let the browser tests silently stop running.
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                f"{CHROMIUM} is missing: CI must install Debian's chromium (apt-get install -y chromium)"
            )
        pytest.skip("install Debian's chromium to run browser tests: apt-get install -y chromium")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    # Bootstrap then draws no transitions: axe and screenshots see a button's final colours,
    # never a hover fading in or out.
    return {**browser_context_args, "reduced_motion": "reduce"}


# Chromium logs each violation to the console ("Refused to execute inline script because it
# violates the following Content Security Policy directive ..."); the page's own
# securitypolicyviolation event is reported too, should a Chromium word its message otherwise.
CSP_VIOLATION = "Content Security Policy"
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`Content Security Policy violation: ${event.effectiveDirective} refused `
    + `${event.blockedURI || "inline code"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture(autouse=True)
def csp_violations(context: BrowserContext) -> Iterator[list[str]]:
    """Fails a browser test whose pages broke the Content Security Policy: markup the policy
    blocks (an inline script or style, an onclick) is a page that does not work in production.
    A test that provokes a violation on purpose reads and empties this list."""
    violations: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if CSP_VIOLATION in message.text:
            where = message.location.get("url")
            violations.append(f"{where}: {message.text}" if where else message.text)

    context.add_init_script(REPORT_VIOLATIONS)
    context.on("console", on_console)
    yield violations
    # A round trip to each page delivers console messages still on their way.
    for page in context.pages:
        if not page.is_closed():
            page.evaluate("0")
    if violations:
        pytest.fail("Content Security Policy violations:\n" + "\n".join(violations), pytrace=False)


@pytest.fixture
def problems(page: Page) -> Iterator[list[str]]:
    """Fails the test on a console error or a failed request (a click the browser cancelled):
    a page that half works."""
    seen: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.append(f"console: {message.text}")

    def on_failed(request: Request) -> None:
        seen.append(f"request failed: {request.method} {request.url} ({request.failure})")

    page.on("console", on_console)
    page.on("requestfailed", on_failed)
    yield seen
    assert not seen, "\n".join(seen)


def sign_in(page: Page, live_server: Any, username: str) -> Page:
    """Signs in as a person does (every test user's password is "x"), landing on the dashboard."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("x")
    page.get_by_role("button", name="Sign in").click()
    # The heading, not the menu: on a phone "Sign out" hides in the collapsed menu.
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return page


@pytest.fixture
def kim(django_user_model: Any) -> Any:
    """Kim is a key administrator: she reaches every page of the dashboard but the admin."""
    from tests.conftest import put_in_role

    user = django_user_model.objects.create_user(username="kim", email="kim@example.com", password="x")
    return put_in_role(user, "Key administrators")


@pytest.fixture
def kim_signed_in(page: Page, live_server: Any, transactional_db: None, kim: Any) -> Page:
    return sign_in(page, live_server, "kim")


# Where each flow leaves its screenshots (one folder a test), and where `make screenshots` has
# the README's pictures written (NSCONNECT_README_PICTURES, set by the Makefile).
SCREENSHOTS = HERE.parents[1] / "var" / "screenshots"
README_PICTURES = "NSCONNECT_README_PICTURES"


README_MASKED = "#id_private_key, #id_certificate, #api-key"


class Flow:
    """A person's way through the dashboard, checked on every page it stops at.

    `seen(step)` is called where the person looks at a page: axe-core must find no critical or
    serious violation on it, and a screenshot of it goes to var/screenshots/<test>/. At the end of
    the test the last page is checked and photographed too, and a console error or failed request
    anywhere fails the test (the `problems` fixture).
    """

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.folder = SCREENSHOTS / name
        # Only this run's screenshots: a step renamed or dropped since leaves nothing behind.
        shutil.rmtree(self.folder, ignore_errors=True)
        self.steps = 0
        self.pictures = os.environ.get(README_PICTURES, "")

    def seen(self, step: str, *, picture: str = "") -> None:
        """Checks the page as it is now. `picture` names the README picture this view is."""
        from tests.browser.axe import serious_violations

        found = serious_violations(self.page)
        self.steps += 1
        path = self.folder / f"{self.steps:02d}-{step}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=path, full_page=True)
        if picture and self.pictures:
            Path(self.pictures).mkdir(parents=True, exist_ok=True)
            # Committed with the README: a pasted key or certificate and an API key are painted
            # over, even the throwaway ones the tests make, so that no secret is ever published.
            pasted = self.page.locator(README_MASKED)
            picture_path = Path(self.pictures) / f"{picture}.png"
            self.page.screenshot(path=picture_path, full_page=True, mask=[pasted], mask_color="#e9ecef")
        assert not found, f"axe on {self.page.url} ({step}):\n" + "\n".join(found)


@pytest.fixture
def flow(page: Page, problems: list[str], request: pytest.FixtureRequest) -> Iterator[Flow]:
    name = request.node.name.replace("[chromium]", "").removeprefix("test_")
    journey = Flow(page, name)
    yield journey
    if not page.is_closed() and page.url.startswith("http"):
        journey.seen("end")
