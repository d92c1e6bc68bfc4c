"""Buttons that call NetSuite, pressed three times while NetSuite answers slowly: each says it is
working, sends one request, and its answer replaces the status it makes stale."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from authentications.models import AccessToken, HttpAuthentication, SigningKey
from tests.browser.conftest import sign_in
from tests.browser.test_authentication_form import field, fill_in
from tests.browser.test_flow_rotation import current_step
from tests.conftest import new_certificate_id
from tests.fake_netsuite import RECORD_PATH, TOKEN_PATH, FakeNetSuite

RETRIEVE = "Retrieve an access token key"
# Slow enough for a person to click again, and for the test to see the progress.
SLOW_SECONDS = 1.5


@pytest.fixture
def alice_signed_in(page: Page, live_server: Any, transactional_db: None, alice: Any) -> Page:
    return sign_in(page, live_server, "alice")


def requests_to(fake: FakeNetSuite, path: str) -> int:
    return sum(1 for request in fake.requests if request.path.startswith(path))


def progress(page: Page, text: str) -> Locator:
    return page.get_by_role("status").filter(has_text=text)


# What the page shows while it waits, written down by the page itself as it changes: a form post
# leaves the page unable to run a script sent from the test (Chromium holds it until the next page
# arrives, and then the read meets that page), so the page notes, in its tab's sessionStorage
# (kept across a same-site navigation), the moment a live region shows `text` while the button
# pressed is disabled, and how long after that the button was given back (never, when a form
# post replaced the page).
WATCH_WHILE_WAITING = """([label, text]) => {
  sessionStorage.removeItem("seen-while-waiting");
  sessionStorage.removeItem("given-back-after-ms");
  let since = null;
  const waiting = () =>
    [...document.querySelectorAll("[role=status]")].some(
      (status) => status.innerText.includes(text) && status.checkVisibility())
    && [...document.querySelectorAll("button")].some(
      (button) => button.innerText.trim() === label && button.disabled);
  new MutationObserver(() => {
    if (waiting()) {
      if (since === null) {
        since = performance.now();
        sessionStorage.setItem("seen-while-waiting", "progress shown, button disabled");
      }
    } else if (since !== null && sessionStorage.getItem("given-back-after-ms") === null) {
      sessionStorage.setItem("given-back-after-ms", String(Math.round(performance.now() - since)));
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def press_three_times_while_netsuite_is_slow(
    page: Page, fake: FakeNetSuite, label: str, progress_text: str
) -> None:
    """Three quick clicks; while NetSuite thinks, the button is disabled and progress is shown."""
    button = page.get_by_role("button", name=label)
    # The button shows before the page's scripts have run (they load at the end of the body);
    # clicks that early met no guard and, under CI's load, navigated away mid-check.
    page.wait_for_load_state("load")
    page.evaluate(WATCH_WHILE_WAITING, [label, progress_text])
    fake.delay = SLOW_SECONDS
    # The mouse rather than button.click(), which would wait for the page a form post opens.
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, click_count=3)
    # Read again after a navigation, should the form post's answer arrive meanwhile.
    try:
        page.wait_for_function("() => sessionStorage.getItem('seen-while-waiting')", timeout=5000)
    except PlaywrightTimeoutError:
        pytest.fail(f"{label!r}: never disabled while {progress_text!r} was shown")


def all_answered(page: Page) -> None:
    """Waits until a second request would have been seen, then checks the button was not given
    back (enabled, or its progress hidden) before NetSuite's answer: a person would click again."""
    # Long enough for a second request (queued behind the first, or a resubmitted form) to
    # have reached the fake NetSuite, had one been sent.
    page.wait_for_timeout(SLOW_SECONDS * 1000 + 500)
    page.wait_for_load_state("networkidle")
    given_back = page.evaluate("() => sessionStorage.getItem('given-back-after-ms')")
    if given_back is not None:
        assert int(given_back) >= SLOW_SECONDS * 1000 - 100, f"given back after {given_back} ms"


def valid_until(expires_at: dt.datetime) -> str:
    return f"Valid until {timezone.localtime(expires_at):%Y-%m-%d %H:%M}"


def test_retrieve_on_the_detail_page_waits_and_replaces_the_stale_status(
    alice_signed_in: Page,
    live_server: Any,
    problems: list[str],
    authentication_in_state: Any,
    fake_netsuite: FakeNetSuite,
) -> None:
    page = alice_signed_in
    # A token 20 minutes from its end: the new one (an hour) ends at another minute.
    authentication: HttpAuthentication = authentication_in_state("Acme ERP", token_seconds=20 * 60)
    old = valid_until(authentication.current_token().expires_at)
    page.goto(f"{live_server.url}/authentications/{authentication.identifier}/")
    expect(page.get_by_text(old)).to_be_visible()
    button = page.get_by_role("button", name=RETRIEVE)

    press_three_times_while_netsuite_is_slow(page, fake_netsuite, RETRIEVE, "Asking NetSuite for a token")

    expect(page.locator("#retrieve-result")).to_contain_text("Access token retrieved, valid until")
    # Focus follows the answer, so a screen reader reads it and Tab goes on from there.
    expect(page.locator("#retrieve-result")).to_be_focused()
    all_answered(page)
    assert requests_to(fake_netsuite, TOKEN_PATH) == 1
    expect(progress(page, "Asking NetSuite for a token")).to_be_hidden()
    expect(button).to_be_enabled()
    new = valid_until(AccessToken.objects.get(authentication=authentication).expires_at)
    assert new != old
    expect(page.get_by_text(new, exact=True)).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(old)


def test_send_test_request_waits_sends_once_and_replaces_the_stale_status(
    alice_signed_in: Page,
    live_server: Any,
    problems: list[str],
    authentication_in_state: Any,
    fake_netsuite: FakeNetSuite,
) -> None:
    page = alice_signed_in
    # No token yet: the test request retrieves one first, so "None yet" goes stale.
    authentication: HttpAuthentication = authentication_in_state("Acme ERP")
    page.goto(f"{live_server.url}/authentications/{authentication.identifier}/")
    expect(page.get_by_text("None yet")).to_be_visible()
    button = page.get_by_role("button", name="Send test request")

    press_three_times_while_netsuite_is_slow(
        page, fake_netsuite, "Send test request", "Sending the request to NetSuite"
    )

    expect(page.locator("#test-request-result")).to_contain_text("HTTP 200")
    expect(page.locator("#test-request-result")).to_be_focused()
    all_answered(page)
    assert requests_to(fake_netsuite, RECORD_PATH) == 1
    assert requests_to(fake_netsuite, TOKEN_PATH) == 1
    expect(progress(page, "Sending the request to NetSuite")).to_be_hidden()
    expect(button).to_be_enabled()
    new = valid_until(AccessToken.objects.get(authentication=authentication).expires_at)
    expect(page.get_by_text(new, exact=True)).to_be_visible()
    expect(page.get_by_text("None yet")).to_have_count(0)


def test_retrieve_on_the_form_waits_and_replaces_the_last_result(
    alice_signed_in: Page, live_server: Any, problems: list[str], register: Any, fake_netsuite: FakeNetSuite
) -> None:
    page = alice_signed_in
    page.goto(f"{live_server.url}/authentications/new/")
    fill_in(page, register("p256"), algorithm="ES256", token_url=fake_netsuite.token_url)
    result = page.locator("#retrieve-result")
    button = page.get_by_role("button", name=RETRIEVE)
    fake_netsuite.fail_next("invalid_client")
    button.click()
    expect(result).to_contain_text("invalid_client")
    fake_netsuite.requests.clear()

    press_three_times_while_netsuite_is_slow(page, fake_netsuite, RETRIEVE, "Asking NetSuite for a token")

    expect(result).to_contain_text("Access token retrieved, valid until")
    all_answered(page)
    assert requests_to(fake_netsuite, TOKEN_PATH) == 1
    expect(progress(page, "Asking NetSuite for a token")).to_be_hidden()
    expect(button).to_be_enabled()
    expect(result).not_to_contain_text("invalid_client")
    expect(result.get_by_text(re.compile("valid until"))).to_have_count(1)


def test_verify_in_the_rotation_wizard_waits_and_is_sent_once(
    kim_signed_in: Page,
    live_server: Any,
    problems: list[str],
    register: Any,
    create_authentication: Any,
    fake_netsuite: FakeNetSuite,
) -> None:
    page = kim_signed_in
    authentication: HttpAuthentication = create_authentication(register("p256"))
    page.goto(f"{live_server.url}/authentications/{authentication.identifier}/rotate/")
    page.get_by_role("button", name="Generate a new key pair").click()
    expect(page.get_by_role("heading", name=re.compile("^Pending key"))).to_be_visible()
    pending = SigningKey.objects.get(authentication=authentication, state="pending")
    certificate_id = new_certificate_id()
    fake_netsuite.register(
        consumer_key=authentication.consumer_key,
        certificate_id=certificate_id,
        certificate_pem=pending.certificate_pem,
    )
    field(page, "Certificate ID").fill(certificate_id)
    page.get_by_role("button", name="Save Certificate ID").click()
    # The Verify button is on the page before the save too: wait for the page the save opens,
    # or the clicks below land on the old one just before it goes.
    current_step(page, "3. Verify")
    expect(page.get_by_role("button", name="Verify the new key")).to_be_visible()
    fake_netsuite.requests.clear()

    press_three_times_while_netsuite_is_slow(
        page, fake_netsuite, "Verify the new key", "Verifying the new key with NetSuite"
    )

    expect(page.get_by_text("NetSuite gave a token with the new key")).to_be_visible()
    all_answered(page)
    assert requests_to(fake_netsuite, TOKEN_PATH) == 1
    expect(page.get_by_role("button", name="Verify the new key")).to_be_enabled()
