"""The token URL cannot lead nsconnect to a loopback, private, link-local, metadata or other
non-public address unless its exact origin is in NSCONNECT_TOKEN_URL_ALLOWLIST, however the
address is written or reached: odd IP spellings are refused at the form field, and a NetSuite
host name whose DNS answer points inward is refused when connecting, for the token exchange,
the test request and the certificate endpoint alike, with nothing sent.

The DNS and the network are scripted (the `network` fixture): a NetSuite host name "resolves"
to a fake NetSuite on 127.0.0.1 that serves HTTPS with a certificate for NetSuite's names, so
that without the guard the request would really reach it and succeed.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import tempfile
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from authentications import checks
from authentications.models import AccessToken, AuditEvent, HttpAuthentication
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
)
from tests import keyfactory
from tests.conftest import token_request_error
from tests.fake_netsuite import TOKEN_PATH, FakeNetSuite, self_signed_files

pytestmark = pytest.mark.django_db

HOST = "1234567.suitetalk.api.netsuite.com"
RESTLETS_HOST = "1234567.restlets.api.netsuite.com"
NETSUITE_TOKEN_URL = f"https://{HOST}{TOKEN_PATH}"
PUBLIC = "8.8.8.8"  # any public address; the scripted network refuses to connect to it
NEW = "/authentications/new/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # Nothing here is about passwords: alice's is hashed cheaply.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class NetSuiteNamedFake(FakeNetSuite):
    """The fake NetSuite under NetSuite's own name: the assertion's aud is NETSUITE_TOKEN_URL."""

    @property
    def token_url(self) -> str:
        return NETSUITE_TOKEN_URL


@pytest.fixture(scope="module")
def netsuite_server() -> Iterator[tuple[NetSuiteNamedFake, str, list[Any]]]:
    """A fake NetSuite on 127.0.0.1 serving HTTPS with a certificate for *.suitetalk and
    *.restlets.api.netsuite.com, the certificate file to trust, and every TCP connection it
    accepted (counted before TLS, so even a connection that sends nothing is seen)."""
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = self_signed_files(
            ["*.suitetalk.api.netsuite.com", "*.restlets.api.netsuite.com"], folder
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        accepted: list[Any] = []
        with NetSuiteNamedFake() as fake:
            server = fake._server
            assert server is not None

            def get_request() -> tuple[socket.socket, Any]:
                sock, address = server.socket.accept()
                accepted.append(address)
                return context.wrap_socket(sock, server_side=True), address

            server.get_request = get_request  # type: ignore[method-assign]
            yield fake, cert_file, accepted


@pytest.fixture
def netsuite_fake(netsuite_server: Any, monkeypatch: Any) -> Iterator[NetSuiteNamedFake]:
    fake, cert_file, accepted = netsuite_server
    fake.reset()
    accepted.clear()
    session = connections.http_session()
    monkeypatch.setattr(session, "verify", cert_file)
    # No keep-alive connection may carry over from another test: each must connect anew.
    session.close()
    yield fake
    session.close()


@pytest.fixture
def accepted(netsuite_server: Any) -> list[Any]:
    return netsuite_server[2]


class Network:
    """DNS and connections as the product meets them: each name answers as scripted (one
    answer per lookup, the last one repeating), every lookup and every connection attempt is
    recorded, and only destinations on this machine (loopback) are really connected to; any
    other is refused, so no test reaches a real network."""

    def __init__(self, port: int) -> None:
        self.port = port  # every scripted answer leads to the fake NetSuite's port
        self.answers: dict[str, deque[list[str]]] = {}
        self.lookups: list[str] = []
        self.connections: list[tuple[str, int]] = []  # (address, port) of each attempt

    def resolve(self, host: str, *answers: list[str]) -> None:
        self.answers[host] = deque(answers)

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in self.answers:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        self.lookups.append(host)
        queue = self.answers[host]
        answer = queue.popleft() if len(queue) > 1 else queue[0]
        # Whatever family was asked: the test is about what the product does with the answer.
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, self.port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, self.port))
            for address in answer
        ]

    def connect(self, sock: socket.socket, address: Any) -> None:
        self.connections.append((address[0], address[1]))
        parsed = ipaddress.ip_address(address[0])
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        if not (parsed.is_loopback or parsed.is_unspecified):
            raise ConnectionRefusedError(111, "refused by the test's network")
        _real_connect(sock, address)


_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


@pytest.fixture
def network(netsuite_fake: NetSuiteNamedFake, monkeypatch: Any) -> Network:
    assert netsuite_fake._address is not None
    scripted = Network(netsuite_fake._address[1])
    monkeypatch.setattr(socket, "getaddrinfo", scripted.getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: scripted.connect(sock, address))
    return scripted


@pytest.fixture
def netsuite_credentials(register: Any, netsuite_fake: NetSuiteNamedFake) -> assertion.Credentials:
    """Credentials for NetSuite's own token URL, which the fake NetSuite knows."""
    registered = register("p256")
    netsuite_fake.register(
        consumer_key=registered.consumer_key,
        certificate_id=registered.certificate_id,
        certificate_pem=registered.certificate_pem,
        scopes=("restlets", "rest_webservices"),
    )
    return assertion.Credentials(
        consumer_key=registered.consumer_key,
        certificate_id=registered.certificate_id,
        algorithm=registered.algorithm,
        scopes=["restlets", "rest_webservices"],
        token_url=NETSUITE_TOKEN_URL,
        private_key=keyfactory.private_key("p256"),
    )


def refused_token_request(credentials: assertion.Credentials) -> http_exchange.TokenRequestError:
    with pytest.raises(http_exchange.TokenRequestError) as raised:
        token_request.request_token(credentials, timezone.now())
    return raised.value


def assert_nothing_reached(fake: FakeNetSuite, network: Network, accepted: list[Any]) -> None:
    assert network.connections == [], "a connection was attempted"
    assert accepted == [], "the fake NetSuite accepted a connection"
    assert fake.requests == []


# --- a NetSuite name that resolves inward ------------------------------------------------


def test_a_netsuite_name_resolving_to_loopback_is_refused_and_nothing_is_sent(
    netsuite_credentials, netsuite_fake, network, accepted, settings
):
    """GIVEN NetSuite's host name resolves to 127.0.0.1, where a server answers as NetSuite
    (and 127.0.0.1 at that port is even allowlisted under its own name) WHEN a token is
    requested THEN nsconnect does not connect, and says why and how to allow it."""
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [f"https://127.0.0.1:{network.port}"]
    network.resolve(HOST, ["127.0.0.1"])
    error = refused_token_request(netsuite_credentials)
    assert error.kind == "bad_url" and not error.is_transient
    assert f"{HOST} resolves to 127.0.0.1, a loopback address" in error.message
    assert "add that origin to NSCONNECT_TOKEN_URL_ALLOWLIST" in error.message
    assert f"If https://{HOST} is a test or sandbox server" in error.message
    assert network.lookups == [HOST]
    assert_nothing_reached(netsuite_fake, network, accepted)


@pytest.mark.parametrize(
    ("address", "named"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.42.0.7", "a loopback address"),
        ("10.0.0.8", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.10", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104  (an answer, not a bind)
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("::1", "a loopback address"),
        ("::", "an unspecified address"),
        ("fd12:3456::1", "a private address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("fe80::1", "a link-local address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:127.0.0.1", "a loopback address (IPv4-mapped 127.0.0.1)"),
        ("::ffff:169.254.169.254", "a cloud metadata address (IPv4-mapped 169.254.169.254)"),
        ("64:ff9b::7f00:1", "a loopback address (NAT64 127.0.0.1)"),
        ("64:ff9b::a00:8", "a private address (NAT64 10.0.0.8)"),
        ("2002:a9fe:a9fe::1", "a cloud metadata address (6to4 169.254.169.254)"),
        ("::7f00:1", "a reserved address"),
    ],
)
def test_every_kind_of_non_public_address_is_refused(
    netsuite_credentials, netsuite_fake, network, accepted, address, named
):
    network.resolve(HOST, [address])
    error = refused_token_request(netsuite_credentials)
    assert error.kind == "bad_url"
    assert f"{HOST} resolves to {address}, {named}, not a public address" in error.message
    assert_nothing_reached(netsuite_fake, network, accepted)


def test_a_rebinding_name_never_reaches_the_inward_address(
    netsuite_credentials, netsuite_fake, network, accepted
):
    """GIVEN a name that answers a public address first and 127.0.0.1 ever after (DNS rebinding)
    WHEN tokens are requested THEN each connection is made to the very address that was checked
    in its one lookup: the public one (refused by the network here), then nothing at all."""
    network.resolve(HOST, [PUBLIC], ["127.0.0.1"])
    first = refused_token_request(netsuite_credentials)
    assert first.kind == "connection"  # it went for the public address, and only for it
    assert network.lookups == [HOST]
    assert network.connections == [(PUBLIC, network.port)]

    second = refused_token_request(netsuite_credentials)
    assert "resolves to 127.0.0.1, a loopback address" in second.message
    assert network.lookups == [HOST, HOST]
    assert network.connections == [(PUBLIC, network.port)]
    assert accepted == [] and netsuite_fake.requests == []


@pytest.mark.parametrize("answer", [[PUBLIC, "127.0.0.1"], ["127.0.0.1", PUBLIC]])
def test_an_answer_mixing_public_and_inward_addresses_is_refused_whole(
    netsuite_credentials, netsuite_fake, network, accepted, answer
):
    """A NetSuite name never resolves to a non-public address, so one such address makes the
    whole answer suspect: nsconnect refuses it (and says so) rather than trying the public one,
    so the outcome does not depend on the order of the addresses."""
    network.resolve(HOST, answer)
    error = refused_token_request(netsuite_credentials)
    assert "resolves to 127.0.0.1, a loopback address" in error.message
    assert_nothing_reached(netsuite_fake, network, accepted)


def test_the_test_request_is_refused_alike(netsuite_fake, network, accepted):
    network.resolve(HOST, ["127.0.0.1"])
    with pytest.raises(http_exchange.TokenRequestError) as raised:
        rest_request.send_test_request(token_url=NETSUITE_TOKEN_URL, access_token="a-token", path="")
    assert raised.value.kind == "bad_url"
    assert f"{HOST} resolves to 127.0.0.1" in raised.value.message
    assert "a-token" not in raised.value.message
    assert_nothing_reached(netsuite_fake, network, accepted)


@pytest.mark.parametrize("operation", ["list", "add"])
def test_the_certificate_endpoint_is_refused_alike(netsuite_fake, network, accepted, operation):
    """The certificate endpoint lives on the restlets host: its own DNS answer is checked."""
    network.resolve(RESTLETS_HOST, ["169.254.169.254"])
    common = {"token_url": NETSUITE_TOKEN_URL, "access_token": "a-token", "client_id": "a" * 64}
    with pytest.raises(CertificateEndpointError) as raised:
        if operation == "list":
            list_certificates(**common)
        else:
            add_certificate(**common, certificate_pem="x", role_id="3", entity_id="4")
    message = raised.value.message
    assert raised.value.kind == "bad_url"
    assert f"{RESTLETS_HOST} resolves to 169.254.169.254, a cloud metadata address" in message
    assert "may have been carried out" not in message  # nothing was sent, and it says so
    assert_nothing_reached(netsuite_fake, network, accepted)


def test_retrieve_on_the_form_shows_the_refusal(
    alice_client, register, form_data, netsuite_fake, network, accepted
):
    network.resolve(HOST, ["10.0.0.8"])
    data = {**form_data(register("p256"), token_url=NETSUITE_TOKEN_URL), "retrieve_token": "1"}
    page = alice_client.post(NEW, data, HTTP_HX_REQUEST="true").content.decode()
    assert f"{HOST} resolves to 10.0.0.8, a private address" in page
    assert "NSCONNECT_TOKEN_URL_ALLOWLIST" in page
    assert_nothing_reached(netsuite_fake, network, accepted)


def test_a_saved_record_keeps_its_failure_and_gets_no_token(
    alice_client, register, create_authentication, netsuite_fake, network, accepted
):
    authentication = create_authentication(register("p256"), token_url=NETSUITE_TOKEN_URL)
    network.resolve(HOST, ["127.0.0.1"])
    page = alice_client.post(f"/authentications/{authentication.identifier}/retrieve-token/", follow=True)
    assert f"{HOST} resolves to 127.0.0.1" in page.content.decode()
    authentication.refresh_from_db()
    assert f"{HOST} resolves to 127.0.0.1" in authentication.last_error
    assert AccessToken.objects.count() == 0
    assert AuditEvent.objects.get(action="token.failed").details["kind"] == "bad_url"
    assert_nothing_reached(netsuite_fake, network, accepted)


def test_a_redirect_inward_is_not_followed(credentials, fake_netsuite, network):
    """GIVEN the token endpoint answers with a redirect to another address WHEN a token is
    requested THEN nsconnect connects to nothing but the token endpoint."""
    fake_netsuite.fail_next("redirect")  # Location: http://127.0.0.1:9/elsewhere
    error = token_request_error(credentials)
    assert "redirect (HTTP 302)" in error.message
    assert network.connections == [("127.0.0.1", fake_netsuite._address[1])]
    assert [request.path for request in fake_netsuite.requests] == [TOKEN_PATH]


# --- the allowlist is the one exception, origin by origin --------------------------------


def test_an_allowlisted_origin_on_loopback_still_works(credentials, fake_netsuite):
    """The tests' own fake NetSuite: http://127.0.0.1:<port> is allowlisted, so it is reached."""
    token = token_request.request_token(credentials, timezone.now())
    assert token.access_token == fake_netsuite.issued_tokens[-1]


def test_allowlisting_the_exact_origin_admits_a_name_that_resolves_inward(
    netsuite_credentials, netsuite_fake, network, accepted, settings
):
    """GIVEN a sandbox reached under NetSuite's name through internal DNS WHEN its exact origin
    is allowlisted THEN nsconnect connects to it, and the token is issued."""
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [f"https://{HOST}"]
    network.resolve(HOST, ["127.0.0.1"])
    token = token_request.request_token(netsuite_credentials, timezone.now())
    assert token.access_token == netsuite_fake.issued_tokens[-1]
    assert network.connections == [("127.0.0.1", network.port)] and len(accepted) == 1


def test_an_address_family_this_machine_cannot_open_moves_on_to_the_next_address(
    netsuite_credentials, netsuite_fake, network, accepted, settings, monkeypatch
):
    """GIVEN an allowlisted name answering ::1 first and 127.0.0.1 second, on a machine with
    IPv6 off (opening an IPv6 socket fails) THEN the IPv4 address is tried and the token issued."""
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [f"https://{HOST}"]
    network.resolve(HOST, ["::1", "127.0.0.1"])
    real_socket = socket.socket

    def no_ipv6(family: int = socket.AF_INET, *args: Any, **kwargs: Any) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(97, "Address family not supported by protocol")
        return real_socket(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", no_ipv6)
    token = token_request.request_token(netsuite_credentials, timezone.now())
    assert token.access_token == netsuite_fake.issued_tokens[-1]
    assert network.connections == [("127.0.0.1", network.port)] and len(accepted) == 1


@pytest.mark.parametrize(
    "entry",
    [
        f"https://{HOST}:8443",  # another port
        f"http://{HOST}",  # another scheme
        "https://7654321.suitetalk.api.netsuite.com",  # another account
        "http://127.0.0.1:{port}",  # the address it resolves to, not the origin
    ],
)
def test_an_allowlist_entry_admits_its_own_origin_only(
    netsuite_credentials, netsuite_fake, network, accepted, settings, entry
):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [entry.format(port=network.port)]
    network.resolve(HOST, ["127.0.0.1"])
    error = refused_token_request(netsuite_credentials)
    assert "resolves to 127.0.0.1, a loopback address" in error.message
    assert_nothing_reached(netsuite_fake, network, accepted)


# --- odd spellings of an inward address, refused at the form field -----------------------


SPELLINGS = [
    ("http://2130706433:{port}", "four decimal numbers"),  # decimal
    ("http://0x7f000001:{port}", "four decimal numbers"),  # hex
    ("http://0x7f.0.0.1:{port}", "four decimal numbers"),  # hex, dotted
    ("http://0177.0.0.1:{port}", "four decimal numbers"),  # octal, dotted
    ("http://017700000001:{port}", "four decimal numbers"),  # octal
    ("http://127.1:{port}", "four decimal numbers"),  # short form
    ("http://127.000.000.001:{port}", "four decimal numbers"),  # zero-padded
    ("http://[::ffff:127.0.0.1]:{port}", ""),  # IPv4-mapped IPv6, dotted
    ("http://[::ffff:7f00:1]:{port}", ""),  # IPv4-mapped IPv6, hex
    ("http://[0:0:0:0:0:ffff:7f00:1]:{port}", ""),  # IPv4-mapped IPv6, long
    ("http://[64:ff9b::7f00:1]:{port}", ""),  # NAT64
    ("http://[::127.0.0.1]:{port}", ""),  # IPv4-compatible IPv6
]


@pytest.mark.parametrize(("spelling", "fragment"), SPELLINGS)
def test_another_spelling_of_an_allowlisted_address_is_refused_at_the_field(
    alice_client, register, form_data, fake_netsuite, spelling, fragment
):
    """GIVEN http://127.0.0.1:<port> is allowlisted (the fake NetSuite) WHEN the Authentication
    URL writes 127.0.0.1 another way THEN the field refuses it: the allowlist admits the origin
    as written, never an address however spelt. Nothing is saved and nothing is sent."""
    url = spelling.format(port=fake_netsuite._address[1]) + TOKEN_PATH
    with pytest.raises(token_urls.ProtocolValueError, match=fragment or None):
        token_urls.check_token_url(url)
    response = alice_client.post(NEW, {**form_data(register("p256"), token_url=url), "retrieve_token": "1"})
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert "token_url" in errors and fragment in " ".join(errors["token_url"])
    assert HttpAuthentication.objects.count() == 0
    assert fake_netsuite.requests == []


@pytest.mark.parametrize(
    "entry", ["http://2130706433:{port}", "http://0x7f000001:{port}", "http://[::ffff:127.0.0.1]:{port}"]
)
def test_an_allowlist_entry_in_an_odd_spelling_admits_nothing_and_the_check_names_it(
    settings, fake_netsuite, entry
):
    """The allowlist is read by the same parser: an entry it refuses admits nothing, not even
    127.0.0.1 written plainly, and the system check says so at start."""
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [entry.format(port=fake_netsuite._address[1])]
    problems = checks.check_allowlist()
    assert [problem.id for problem in problems] == ["nsconnect.E004"]
    assert "admits nothing" in problems[0].msg
    assert not token_urls.is_allowlisted(fake_netsuite.token_url)
    with pytest.raises(token_urls.ProtocolValueError):
        token_urls.check_token_url(fake_netsuite.token_url)
