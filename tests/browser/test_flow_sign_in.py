"""Flow: signing in, as a person does, and what a wrong password says."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Flow


def test_sign_in_lands_on_the_dashboard(
    page: Page, flow: Flow, live_server: Any, transactional_db: None, kim: Any
) -> None:
    page.goto(f"{live_server.url}/")
    # Signed out, the dashboard sends you to sign in first.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    flow.seen("sign-in", picture="sign-in")
    page.get_by_label("Username").fill("kim")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("username and password")
    flow.seen("wrong-password")
    page.get_by_label("Password").fill("x")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("kim", exact=True)).to_be_visible()
