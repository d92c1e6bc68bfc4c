"""The token URL is parsed once, refused unless canonical, checked against the allowlist at every
request, and sent exactly as rebuilt from its parsed parts (issue 8, hole 1)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from authentications.forms.authentication import AuthenticationForm
from authentications.models import AccessToken
from authentications.netsuite import (
    assertion,
    connections,
    http_exchange,
    rest_request,
    token_request,
    token_urls,
)
from authentications.netsuite.certificate_endpoint import (
    CertificateEndpointError,
    add_certificate,
    list_certificates,
    revoke_certificate,
)
from authentications.services import token_attempt, token_single_flight
from tests import keyfactory

pytestmark = pytest.mark.django_db

TOKEN_PATH = token_urls.TOKEN_PATH


class Listener:
    """A second server on 127.0.0.1 that only counts who connects to it: the attacker's."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.socket.close()


@pytest.fixture
def attacker() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def credentials_for(registered: Any, token_url: str) -> assertion.Credentials:
    return assertion.Credentials(
        consumer_key=registered.consumer_key,
        certificate_id=registered.certificate_id,
        algorithm=registered.algorithm,
        scopes=["restlets", "rest_webservices"],
        token_url=token_url,
        private_key=keyfactory.private_key(registered.kind),
    )


def test_a_backslash_cannot_send_the_assertion_to_another_host(register, fake_netsuite, attacker, form_data):
    """GIVEN the fake NetSuite's origin is allowlisted WHEN the token URL is
    http://127.0.0.1:<other>\\@127.0.0.1:<allowlisted>/... (urlsplit reads the allowlisted host,
    requests would connect to the other) THEN the form and request_token refuse it, and nothing
    ever connects to the other server."""
    port = fake_netsuite.origin.rsplit(":", 1)[1]
    evil = f"http://127.0.0.1:{attacker.port}\\@127.0.0.1:{port}{TOKEN_PATH}"
    registered = register("p256")

    with pytest.raises(token_urls.ProtocolValueError, match="backslash"):
        token_urls.check_token_url(evil)
    assert not token_urls.is_allowlisted(evil)
    form = AuthenticationForm(data=form_data(registered, token_url=evil))
    assert not form.is_valid() and "backslash" in str(form.errors["token_url"])
    with pytest.raises(http_exchange.TokenRequestError) as refused:
        token_request.request_token(credentials_for(registered, evil), timezone.now())
    assert refused.value.kind == "bad_url" and "backslash" in refused.value.message

    assert attacker.connections == 0
    assert fake_netsuite.requests == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://169.254.169.254\\@{origin}" + TOKEN_PATH, "backslash"),
        ("http://169.254.169.254@{origin}" + TOKEN_PATH, "no user name"),
        ("http://user:pass@{origin}" + TOKEN_PATH, "no user name"),
        ("http://{origin}/services/rest/auth/oauth2/v1/tok\ten", "control character"),
        ("http://{origin}/services/rest/auth/oauth2/v1/ token", "space"),
        ("http://{origin}\r\n/services", "control character"),
        ("http://{origin}/services/rest/auth/oauth2/v1/tokén", "not plain ASCII"),
        ("http://%31%32%37.0.0.1:{port}" + TOKEN_PATH, "percent-encoded host"),
        ("http://127.0.0..1:{port}" + TOKEN_PATH, "two dots in a row"),
        ("http://127.0.0.1.:{port}" + TOKEN_PATH, "ends with a dot"),
        ("http://127.1:{port}" + TOKEN_PATH, "four decimal numbers"),
        ("http://0x7f.0.0.1:{port}" + TOKEN_PATH, "four decimal numbers"),
        ("http://2130706433:{port}" + TOKEN_PATH, "four decimal numbers"),
        ("http://127.000.000.001:{port}" + TOKEN_PATH, "four decimal numbers"),
        ("http://127.0.0.1:{port}x" + TOKEN_PATH, "port"),
        ("http://127.0.0.1:0{port}" + TOKEN_PATH, "port"),
        ("http://127.0.0.1:99999" + TOKEN_PATH, "port"),
        ("http://127.0.0.1:" + TOKEN_PATH, "port"),
        ("http://{origin}" + TOKEN_PATH + "?a=1", "no query"),
        ("http://{origin}" + TOKEN_PATH + "#a", "no query"),
        ("http://{origin}" + TOKEN_PATH + "?", "no query"),
        ("http://{origin}/services/rest/%2e%2e/token", "characters NetSuite"),
        ("http://{origin}/services/rest/../auth/oauth2/v1/token", "../"),
        ("http://{origin}//services/rest/auth/oauth2/v1/token", "//"),
        ("http:/{origin}" + TOKEN_PATH, "full URL"),
        ("ftp://{origin}" + TOKEN_PATH, "https://"),
    ],
)
def test_urls_that_are_not_canonical_are_refused(fake_netsuite, url, says):
    """GIVEN the fake NetSuite's origin is allowlisted WHEN a URL on it is written in any way two
    parsers could read differently THEN it is refused with a message naming what is wrong."""
    origin = fake_netsuite.origin.removeprefix("http://")
    port = origin.rsplit(":", 1)[1]
    url = url.format(origin=origin, port=port)
    with pytest.raises(token_urls.ProtocolValueError, match=says):
        token_urls.check_token_url(url)
    assert not token_urls.is_allowlisted(url)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("HTTP://127.0.0.1:{port}" + TOKEN_PATH, "http://127.0.0.1:{port}" + TOKEN_PATH),
        ("  http://127.0.0.1:{port}" + TOKEN_PATH + " ", "http://127.0.0.1:{port}" + TOKEN_PATH),
    ],
)
def test_the_url_sent_and_the_aud_claim_are_the_url_rebuilt_from_its_parts(
    register, fake_netsuite, url, sent
):
    """GIVEN an allowlisted token URL written with an upper-case scheme or spaces around it
    WHEN a token is requested THEN the URL POSTed and `aud` are both the canonical URL
    (the fake NetSuite refuses an `aud` other than its own token URL)."""
    port = fake_netsuite.origin.rsplit(":", 1)[1]
    url, sent = url.format(port=port), sent.format(port=port)
    assert token_urls.check_token_url(url) == sent
    registered = register("p256")
    assert token_request.request_token(credentials_for(registered, url), timezone.now()).access_token
    assert fake_netsuite.requests[-1].claims["aud"] == sent == fake_netsuite.token_url
    assert fake_netsuite.requests[-1].path == TOKEN_PATH


def test_netsuite_urls_lose_the_default_port():
    url = f"https://1234567.suitetalk.api.netsuite.com:443{TOKEN_PATH}"
    assert token_urls.check_token_url(url) == f"https://1234567.suitetalk.api.netsuite.com{TOKEN_PATH}"


@pytest.mark.parametrize(
    ("allowlist", "url", "admitted"),
    [
        (["http://[::1]:8900"], f"http://[::1]:8900{TOKEN_PATH}", True),
        (["http://[::1]:8900"], f"http://[0:0:0:0:0:0:0:1]:8900{TOKEN_PATH}", False),
        (["http://LOCALHOST:8900/"], f"http://localhost:8900{TOKEN_PATH}", True),
        (["http://localhost:8900"], f"https://localhost:8900{TOKEN_PATH}", False),
        (["http://localhost"], f"http://localhost:80{TOKEN_PATH}", True),
        (["http://localhost:8900\\@evil"], f"http://localhost:8900{TOKEN_PATH}", False),
        (["http://localhost:8900/path"], f"http://localhost:8900{TOKEN_PATH}", False),
    ],
)
def test_the_allowlist_is_compared_on_parsed_origins(settings, allowlist, url, admitted):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = allowlist
    assert token_urls.is_allowlisted(url) is admitted


def test_a_url_the_http_library_would_read_differently_is_not_sent(register, fake_netsuite, monkeypatch):
    """GIVEN the HTTP library would turn the checked URL into another one (a parser differential
    nsconnect's own parser did not foresee) WHEN a token is requested THEN nothing is sent."""
    session = connections.http_session()
    original = session.prepare_request

    def differential(request: Any) -> Any:
        prepared = original(request)
        prepared.url = "http://169.254.169.254" + TOKEN_PATH
        return prepared

    monkeypatch.setattr(session, "prepare_request", differential)
    with pytest.raises(http_exchange.TokenRequestError, match="read this URL differently") as refused:
        token_request.request_token(
            credentials_for(register("p256"), fake_netsuite.token_url), timezone.now()
        )
    assert refused.value.kind == "bad_url"
    assert fake_netsuite.requests == []


# --- the allowlist applies at every request, not only when the form is saved -------------


@pytest.fixture
def stored(register: Any, create_authentication: Any, fake_netsuite: Any) -> Any:
    """An authentication saved with the fake NetSuite's allowlisted URL, with a current token."""
    authentication = create_authentication(
        register("p256"), netsuite_role_id="3", netsuite_entity_id="4", scopes="restlets,rest_webservices"
    )
    token_single_flight.token_get(authentication=authentication, actor="test")
    fake_netsuite.reset()
    return authentication


def test_removing_an_origin_from_the_allowlist_stops_token_requests_at_once(stored, fake_netsuite, settings):
    """GIVEN a record saved with an allowlisted URL WHEN its origin leaves the allowlist
    THEN the next token request is refused with a message, and nothing reaches the server."""

    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = []
    with pytest.raises(http_exchange.TokenRequestError) as refused:
        token_request.request_token(
            token_attempt.credentials_for(stored, stored.active_key()), timezone.now()
        )
    assert refused.value.kind == "bad_url"
    assert "NSCONNECT_TOKEN_URL_ALLOWLIST" in refused.value.message
    assert fake_netsuite.requests == []


def test_removing_an_origin_stops_test_requests_at_once(stored, fake_netsuite, settings):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = []
    token = AccessToken.objects.get(authentication=stored).value
    with pytest.raises(http_exchange.TokenRequestError) as refused:
        rest_request.send_test_request(token_url=stored.token_url, access_token=token, path="")
    assert refused.value.kind == "bad_url"
    assert token not in refused.value.message
    assert fake_netsuite.requests == []


def test_removing_an_origin_stops_the_test_request_button(stored, fake_netsuite, settings, alice_client):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = []
    page = alice_client.post(f"/authentications/{stored.identifier}/test-request/", {"path": ""})
    assert page.status_code == 200
    assert "NSCONNECT_TOKEN_URL_ALLOWLIST" in page.content.decode()
    assert fake_netsuite.requests == []


@pytest.mark.parametrize("operation", ["list", "add", "revoke"])
def test_removing_an_origin_stops_the_certificate_endpoint_at_once(
    stored, fake_netsuite, settings, operation
):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = []
    common = {
        "token_url": stored.token_url,
        "access_token": AccessToken.objects.get(authentication=stored).value,
        "client_id": stored.consumer_key,
    }
    calls = {
        "list": lambda: list_certificates(**common),
        "add": lambda: add_certificate(**common, certificate_pem="x", role_id="3", entity_id="4"),
        "revoke": lambda: revoke_certificate(**common, certificate_id="someCertificateId"),
    }
    with pytest.raises(CertificateEndpointError) as refused:
        calls[operation]()
    assert refused.value.kind == "bad_url"
    assert isinstance(refused.value, http_exchange.TokenRequestError)
    assert fake_netsuite.requests == []


def test_the_exchange_itself_refuses_an_origin_not_allowlisted(fake_netsuite, settings):
    """The last guard: whatever a caller built, exchange sends only to NetSuite or an allowlisted origin."""
    endpoint = token_urls.parse_url(fake_netsuite.token_url)
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = []
    with pytest.raises(http_exchange.TokenRequestError, match="neither NetSuite nor in"):
        http_exchange.exchange("POST", endpoint, headers={})
    assert fake_netsuite.requests == []
