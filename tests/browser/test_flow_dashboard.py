"""Flow: the dashboard at a glance. Empty, it says what to do first; with authentications in
different states, a certificate 5 days from expiry shows as expiring, and its tile leads to the
list filtered to exactly that authentication."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from authentications.models import HttpAuthentication, SigningKey
from tests.browser.conftest import Flow


def expire_in(authentication: HttpAuthentication, days: float) -> None:
    SigningKey.objects.filter(authentication=authentication, state=SigningKey.State.ACTIVE).update(
        effective_expires_at=timezone.now() + dt.timedelta(days=days)
    )


def in_different_states(authentication_in_state: Any) -> None:
    now = timezone.now()
    failing = {"failing_since": now, "consecutive_failures": 3, "last_error": "NetSuite did not answer."}
    authentication_in_state("Acme ERP", token_seconds=3600)
    expire_in(authentication_in_state("Globex CRM", token_seconds=3600), 5)
    authentication_in_state("Initech HR", next_attempt_at=now + dt.timedelta(minutes=8), **failing)
    authentication_in_state("Umbrella Logistics", retries_stopped=True, **failing)
    authentication_in_state("Hooli Payroll")
    expire_in(authentication_in_state("Soylent Foods"), -3)
    authentication_in_state("Vandelay Imports", token_seconds=3600, enabled=False)


def test_a_certificate_five_days_from_expiry_shows_as_expiring(
    kim_signed_in: Page, flow: Flow, live_server: Any, authentication_in_state: Any
) -> None:
    page = kim_signed_in
    # Nothing yet: the dashboard says what to do first.
    expect(page.get_by_role("heading", name="No HTTP authentications yet")).to_be_visible()
    expect(page.get_by_role("link", name="Create your first HTTP authentication")).to_be_visible()
    expect(page.get_by_role("link", name="generate a key pair first")).to_be_visible()
    flow.seen("empty-dashboard")

    in_different_states(authentication_in_state)
    page.reload()

    tile = page.get_by_role("link", name=re.compile(r"^1 Certificate expiring within 30 days"))
    expect(tile).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^2 Failing"))).to_be_visible()
    # Acme, and Globex: expiring, yet healthy.
    expect(page.get_by_role("link", name=re.compile(r"^2 Healthy"))).to_be_visible()
    globex = page.get_by_role("row").filter(has=page.get_by_role("link", name="Globex CRM"))
    expect(globex.get_by_text("Certificate expires in 5 days")).to_be_visible()
    expect(globex.get_by_text("5 days left")).to_be_visible()
    flow.seen("dashboard", picture="dashboard")

    tile.click()

    expect(page).to_have_url(re.compile(r"/authentications/\?state=expiring$"))
    expect(page.get_by_text("Found 1 of 7 HTTP authentications.")).to_be_visible()
    expect(page.get_by_label("State")).to_have_value("expiring")
    rows = page.get_by_role("table").locator("tbody").get_by_role("row")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("link", name="Globex CRM")).to_be_visible()
    expect(rows.get_by_text("Certificate expires in 5 days")).to_be_visible()
    flow.seen("list-expiring")

    page.get_by_label("State").select_option(label="Any state")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("7 HTTP authentications.", exact=True)).to_be_visible()
    expect(page.get_by_role("table").locator("tbody").get_by_role("row")).to_have_count(7)
    flow.seen("list", picture="list")

    page.get_by_label("Search").fill("hooli")
    page.get_by_label("Search").press("Enter")
    expect(page.get_by_text("Found 1 of 7 HTTP authentications.")).to_be_visible()
    expect(page.get_by_role("table").get_by_text("No token yet")).to_be_visible()
