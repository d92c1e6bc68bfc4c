"""Protocol rules that need no server: hosts, URLs, scopes, answers."""

from __future__ import annotations

import pytest

from authentications.netsuite import assertion, token_urls


@pytest.mark.parametrize(
    ("account_id", "host"),
    [("1234567", "1234567"), ("1234567_SB1", "1234567-sb1"), ("TSTDRV1234567", "tstdrv1234567")],
)
def test_account_ids_map_to_netsuite_hosts(account_id, host):
    assert token_urls.token_url_for_account(account_id) == (
        f"https://{host}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    )


@pytest.mark.parametrize("account_id", ["1234567 SB1", "12-34", "", "a_b_c"])
def test_malformed_account_ids_are_refused(account_id):
    with pytest.raises(token_urls.ProtocolValueError, match="letters and digits"):
        token_urls.account_host(account_id)


def test_allowlisted_origins_admit_other_hosts(settings):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = ["http://localhost:8900"]
    assert token_urls.check_token_url("http://localhost:8900/token") == "http://localhost:8900/token"
    with pytest.raises(token_urls.ProtocolValueError):
        token_urls.check_token_url("http://localhost:8901/token")


def test_netsuite_urls_are_normalised_to_lower_case():
    url = "https://1234567-SB1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    assert token_urls.check_token_url(url) == url.replace("SB1", "sb1")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://1234567.suitetalk.api.netsuite.com:8443/services/rest/auth/oauth2/v1/token", "no port"),
        ("https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token?x=1", "no query"),
        ("https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token#x", "no query"),
        ("https://user@1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token", "no user"),
    ],
)
def test_token_urls_take_no_port_query_or_user(url, says):
    with pytest.raises(token_urls.ProtocolValueError, match=says):
        token_urls.check_token_url(url)


def test_scopes_keep_their_order_and_lose_spaces():
    assert assertion.parse_scopes(" suite_analytics, restlets ") == ["suite_analytics", "restlets"]
    assert assertion.parse_scopes("mcp") == ["mcp"]
