"""Flow: a key administrator issues an API key for a service, sees it once, and the service
fetches a token with it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.browser.conftest import Flow
from tests.fake_netsuite import FakeNetSuite


def test_an_api_key_is_shown_once_and_fetches_a_token(
    kim_signed_in: Page,
    flow: Flow,
    problems: list[str],
    live_server: Any,
    authentication_in_state: Any,
    fake_netsuite: FakeNetSuite,
) -> None:
    page = kim_signed_in
    authentication_in_state("Acme ERP")
    page.get_by_role("link", name="API clients").click()
    page.get_by_role("link", name="New API client").click()
    page.get_by_label("Name").fill("Orders ETL")
    page.get_by_label("Acme ERP").check()
    flow.seen("new-client")
    page.get_by_role("button", name="Issue API key").click()

    expect(page.get_by_role("heading", name="API key for Orders ETL")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("it will not be shown again")
    key = page.get_by_label("API key").input_value()
    assert key.startswith("nsc_")
    flow.seen("key-once", picture="api-key")

    # Once: the list shows only its hint, and nothing on the way back brings the key again.
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("cell", name="Orders ETL")).to_be_visible()
    assert key not in page.content()
    # Back: the page with the key was the answer to a POST that no cache kept, so Chromium
    # offers to send the form again (ERR_CACHE_MISS) rather than show the key.
    with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):
        page.go_back()
    page.wait_for_url("chrome-error://**")
    assert key not in page.content()
    page.goto(f"{live_server.url}/api-clients/")
    assert key not in page.content()
    problems.remove(next(seen for seen in problems if "ERR_CACHE_MISS" in seen))
    flow.seen("list")

    # The service: a plain HTTP client with the key, no browser session.
    service = page.context.request
    url = f"{live_server.url}/api/v1/authentications/acme-erp/token"
    answer = service.get(url, headers={"Authorization": f"Bearer {key}", "Cookie": ""})
    assert answer.status == 200, answer.text()
    body = answer.json()
    assert body["access_token"] in fake_netsuite.issued_tokens
    assert body["expires_in"] > 0
    # A wrong key gets JSON saying so, never a token.
    refused = service.get(url, headers={"Authorization": "Bearer nsc_wrong", "Cookie": ""})
    assert refused.status == 401
    assert "access_token" not in refused.json()
