"""Flow: an integrator works with HTTP authentications but may neither rotate keys nor delete."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Flow, sign_in


def test_an_integrator_is_refused_rotate_and_delete(
    page: Page,
    flow: Flow,
    problems: list[str],
    live_server: Any,
    transactional_db: None,
    alice: Any,
    authentication_in_state: Any,
) -> None:
    authentication_in_state("Acme ERP", token_seconds=3600)
    sign_in(page, live_server, "alice")
    page.get_by_role("link", name="HTTP authentications").first.click()
    page.get_by_role("link", name="Acme ERP").click()
    expect(page.get_by_role("heading", name="Acme ERP")).to_be_visible()
    # The buttons are not offered to her.
    expect(page.get_by_role("link", name="Rotate key")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    expect(page.get_by_role("button", name="Retrieve an access token key")).to_be_visible()
    flow.seen("detail")

    # And typing the addresses does not get her there: a page that says why, and nothing changed.
    for action in ("rotate", "delete"):
        answer = page.goto(f"{live_server.url}/authentications/acme-erp/{action}/")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Key administrators")
        expect(page.locator("main")).to_contain_text("Nothing was changed")
        flow.seen(f"refused-{action}")
    # The browser logs each 403 as an error: expected here, and only these.
    assert len(problems) == 2 and all("403 (Forbidden)" in seen for seen in problems), problems
    problems.clear()
    page.goto(f"{live_server.url}/authentications/acme-erp/")
    expect(page.get_by_role("heading", name="Acme ERP")).to_be_visible()
