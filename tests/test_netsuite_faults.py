"""Faults from NetSuite met by the scheduled refresh (issue 9): whatever the token URL does, the
stored token, signing key and record survive it unchanged, the token is still served, and the
status on the record's page says what happened in plain words.

One row per fault, played by the real fake NetSuite (tests/fake_netsuite.py) and met on the path
the beat takes: sweep_tokens -> refresh_tokens (a batch) -> token_sweep.refresh_claimed ->
token_attempt.token_retrieve.
How each fault reads at the exchange itself is in test_exchange_faults.py and test_hostile_answers.py.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import socket
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.html import escape

from authentications import tasks
from authentications.models import AccessToken, HttpAuthentication, SigningKey
from authentications.netsuite.certificate_endpoint import (
    add_certificate,
    list_certificates,
    revoke_certificate,
)
from authentications.services import token_failures, token_single_flight, token_sweep
from tests.conftest import page_text
from tests.fake_netsuite import HTML, TOKEN_PATH, FakeNetSuite

pytestmark = pytest.mark.django_db

# The stored token has this long left: valid, and inside the refresh margin (600 s), so due.
SECONDS_LEFT = 300
FIRST_BACK_OFF = token_failures.FIRST_RETRY_SECONDS
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _fast(settings: Any, monkeypatch: Any) -> None:
    # Alice's password is never typed here: hashing it for real costs a second per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setattr(token_failures, "jitter", lambda: 0.0)


# --- where a fault needs a second server ------------------------------------------------


@pytest.fixture
def elsewhere(settings: Any) -> Iterator[FakeNetSuite]:
    """Another host (127.0.0.2), allowlisted and listening, that a redirect points to: had a
    redirect been followed, it would have received the request."""
    with FakeNetSuite(host="127.0.0.2") as other:
        settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [*settings.NSCONNECT_TOKEN_URL_ALLOWLIST, other.origin]
        yield other


@pytest.fixture
def untrusted_https_netsuite() -> Iterator[FakeNetSuite]:
    """The fake served over HTTPS with its own certificate, which the client does not trust."""
    with FakeNetSuite(tls=True) as fake:
        yield fake


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (so nobody else takes it), never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# --- the matrix -----------------------------------------------------------------------


@dataclass
class Scene:
    """What a row arranges and checks: the fake NetSuite, the saved record, the settings."""

    fake: FakeNetSuite
    authentication: HttpAuthentication
    settings: Any
    request: pytest.FixtureRequest

    def fixture(self, name: str) -> Any:
        return self.request.getfixturevalue(name)

    def point_at(self, origin: str) -> None:
        """Make `origin` (allowlisted) the record's token URL, as an edit would have."""
        self.settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [*self.settings.NSCONNECT_TOKEN_URL_ALLOWLIST, origin]
        HttpAuthentication.objects.filter(pk=self.authentication.pk).update(token_url=origin + TOKEN_PATH)
        self.authentication.refresh_from_db()


@dataclass(frozen=True)
class Fault:
    name: str
    arrange: Callable[[Scene], None]
    kind: str  # the failure kind the record keeps
    says: tuple[str, ...]  # what the status says, in the words the user reads
    wait: int = FIRST_BACK_OFF  # seconds to the next attempt: the back-off, or Retry-After
    read_timeout: float = 0.5
    connect_timeout: float = 0.5
    check: Callable[[Scene], None] | None = None  # what else must hold after the sweep
    memory_cap: int | None = None  # the most the sweep may allocate (traced), in bytes


def scripted(kind: str) -> Callable[[Scene], None]:
    return lambda scene: scene.fake.fail_next(kind)


def answered(status: int, body: bytes | object, ctype: str = "application/json") -> Callable[[Scene], None]:
    return lambda scene: scene.fake.answer_token_next(status, body, ctype)


def token_living(expires_in: object) -> Callable[[Scene], None]:
    def arrange(scene: Scene) -> None:
        scene.fake.expires_in = expires_in  # type: ignore[assignment]  # hostile on purpose

    return arrange


def refused(scene: Scene) -> None:
    scene.point_at(f"http://127.0.0.1:{scene.fixture('closed_port')}")


def trickling(scene: Scene) -> None:
    scene.fake.trickle_seconds = 1.0
    scene.fake.fail_next("trickle")


def rate_limited_for(retry_after: str) -> Callable[[Scene], None]:
    def arrange(scene: Scene) -> None:
        scene.fake.retry_after = retry_after
        scene.fake.fail_next("rate_limited")

    return arrange


def rate_limited_for_ten_minutes_by_date(scene: Scene) -> None:
    in_ten_minutes = timezone.now() + dt.timedelta(minutes=10)
    rate_limited_for(email.utils.format_datetime(in_ten_minutes, usegmt=True))(scene)


def redirected_elsewhere(scene: Scene) -> None:
    # 307 keeps the method and body: a client following it would POST the assertion there.
    other: FakeNetSuite = scene.fixture("elsewhere")
    scene.fake.answer_token_next(307, b"", HTML, {"Location": other.token_url})


def nothing_reached_elsewhere(scene: Scene) -> None:
    assert scene.fixture("elsewhere").requests == []
    assert len(scene.fake.requests) == 1


def untrusted_tls(scene: Scene) -> None:
    scene.point_at(scene.fixture("untrusted_https_netsuite").origin)


def nothing_sent_over_untrusted_tls(scene: Scene) -> None:
    assert scene.fixture("untrusted_https_netsuite").requests == []


def cut_off_early(scene: Scene) -> None:
    # What the socket buffers held when the client hung up, and no more: nothing like 100 MB.
    assert scene.fake.stream_finished.wait(5), "the client kept reading the 100 MB answer"
    assert scene.fake.streamed_bytes < 16 * MB


FAULTS = [
    Fault(
        "connection refused",
        refused,
        "connection",
        ("Could not connect to 127.0.0.1: the connection was refused",),
    ),
    Fault(
        "reset mid-body",
        scripted("reset_mid_body"),
        "interrupted",
        ("The connection to 127.0.0.1 was reset while NetSuite was answering",),
    ),
    Fault(
        "truncated body",
        scripted("truncated"),
        "interrupted",
        ("NetSuite's answer from 127.0.0.1 was cut off: the connection closed before the whole answer",),
    ),
    Fault(
        "an answer that never ends",
        scripted("never_ends"),
        "timeout",
        ("started answering but stopped sending for 0.5 seconds",),
    ),
    Fault(
        "no answer at all",
        scripted("timeout"),
        "timeout",
        ("NetSuite (127.0.0.1) did not answer within 0.5 seconds",),
    ),
    Fault(
        "a byte every second",
        trickling,
        "timeout",
        ("was still answering after 1.5 seconds", "the answer came far too slowly"),
        # Each byte comes within the read timeout: only the total deadline ends it.
        connect_timeout=0.3,
        read_timeout=1.2,
    ),
    Fault(
        "a 100 MB body",
        scripted("huge_stream"),
        "bad_response",
        ("NetSuite's answer (HTTP 200) was larger than 64 KB, which no token answer is",),
        check=cut_off_early,
        memory_cap=4 * MB,
    ),
    Fault(
        "a 60 MB body gzipped into 62 KB",
        scripted("gzip_bomb"),
        "bad_response",
        ("NetSuite's answer (HTTP 200) was larger than 64 KB",),
        memory_cap=4 * MB,
    ),
    Fault(
        "a redirect to another host",
        redirected_elsewhere,
        "redirect",
        ("answered with a redirect (HTTP 307)", "never sends an assertion on to another address"),
        check=nothing_reached_elsewhere,
    ),
    Fault(
        "429 with Retry-After",
        rate_limited_for("300"),
        "rate_limited",
        ("NetSuite is limiting requests (HTTP 429). Retry after 300 seconds.",),
        wait=300,
    ),
    Fault(
        "429 with Retry-After as a date",
        rate_limited_for_ten_minutes_by_date,
        "rate_limited",
        ("NetSuite is limiting requests (HTTP 429). Retry after",),
        wait=600,
    ),
    Fault(
        "429 without Retry-After",
        scripted("rate_limited_no_retry_after"),
        "rate_limited",
        ("NetSuite is limiting requests (HTTP 429). Try again in a few minutes.",),
    ),
    Fault(
        "500 with an OAuth error in JSON",
        scripted("server_error"),
        "server_error",
        ("NetSuite answered server_error (HTTP 500)",),
    ),
    Fault(
        "500 with other JSON",
        scripted("internal_error_json"),
        "unavailable",
        ("NetSuite could not answer (HTTP 500). This is usually temporary",),
    ),
    Fault(
        "500 with HTML",
        scripted("internal_error_html"),
        "unavailable",
        ("NetSuite could not answer (HTTP 500). This is usually temporary",),
    ),
    Fault(
        "a TLS certificate not trusted",
        untrusted_tls,
        "tls",
        ("The TLS certificate 127.0.0.1 presented was not trusted, so nothing was sent",),
        check=nothing_sent_over_untrusted_tls,
    ),
    Fault(
        "200 without the token",
        answered(200, {"token_type": "Bearer", "expires_in": "3600"}),
        "bad_response",
        ("NetSuite answered HTTP 200 without an access_token.",),
    ),
    Fault(
        "a negative expires_in",
        token_living(-3600),
        "bad_response",
        ("said to live zero seconds or less (a negative expires_in): it would be expired on arrival",),
    ),
    Fault(
        "a huge expires_in",
        token_living("99999999999999999999"),
        "bad_response",
        ("said to live more than 86400 seconds (a day)",),
    ),
    Fault(
        "a non-numeric expires_in",
        token_living("an hour"),
        "bad_response",
        ("NetSuite answered with an expires_in that is not a number of seconds.",),
    ),
]


# --- what every row asserts ---------------------------------------------------------------


def stored_state(authentication: HttpAuthentication) -> dict[str, Any]:
    """Everything stored for the record except its refresh status: the record's fields (the
    lease included), every signing key, the token, and the secrets as encrypted at rest."""
    pk = authentication.pk
    fields = dict(HttpAuthentication.objects.filter(pk=pk).values().get())
    record = {name: value for name, value in fields.items() if name not in token_failures.STATUS_FIELDS}
    keys = SigningKey.objects.filter(authentication_id=pk).order_by("pk")
    token = AccessToken.objects.filter(authentication_id=pk)
    # Cast to a plain text field: the column as stored, not decrypted.
    at_rest = Cast("private_key", TextField()), Cast("value", TextField())
    return {
        "record": record,
        "signing keys": list(keys.values()),
        "token": token.values().get(),
        "encrypted private keys": list(keys.values_list(at_rest[0], flat=True)),
        "encrypted token": token.values_list(at_rest[1], flat=True).get(),
    }


def assert_stored_state_survived(
    before: dict[str, Any], authentication: HttpAuthentication, fake: FakeNetSuite
) -> None:
    assert stored_state(authentication) == before
    # ... and the token is what a consumer is served, without asking NetSuite again.
    asked = len(fake.requests)
    authentication.refresh_from_db()
    served = token_single_flight.token_for_consumer(authentication, actor="test")
    assert served.value == before["token"]["value"]
    assert len(fake.requests) == asked


def assert_status_says(
    client: Any, authentication: HttpAuthentication, fault: Fault, swept: tuple[dt.datetime, dt.datetime]
) -> None:
    authentication.refresh_from_db()
    assert authentication.last_error_kind == fault.kind
    for words in fault.says:
        assert words in authentication.last_error
    assert authentication.consecutive_failures == 1 and authentication.failing_since is not None
    assert not authentication.retries_stopped  # a fault of NetSuite's, not of the credentials
    began, ended = swept
    assert authentication.next_attempt_at is not None
    wait = dt.timedelta(seconds=fault.wait)
    assert began + wait - dt.timedelta(seconds=2) <= authentication.next_attempt_at <= ended + wait
    page = client.get(f"/authentications/{authentication.identifier}/").content.decode()
    for words in fault.says:
        assert escape(words) in page
    token = AccessToken.objects.get(authentication=authentication)
    assert token.value not in page
    # The user also learns that services are unaffected for now.
    valid_until = f"{timezone.localtime(token.expires_at):%Y-%m-%d %H:%M}"
    assert f"The stored token is still valid until {valid_until} and still served." in page_text(page)


def sweep(monkeypatch: Any) -> list[str]:
    """Run the beat's sweep with its batches refreshed at once, in this process: the outcome
    of each refresh in the batches it enqueued."""
    outcomes: list[str] = []

    def refresh_now(authentication_ids: list[int], in_flight: int) -> None:
        statuses = token_sweep.refresh_batch(authentication_ids, in_flight=in_flight).statuses
        outcomes.extend(statuses[pk] for pk in sorted(statuses))

    monkeypatch.setattr(tasks.refresh_tokens, "delay", refresh_now)
    tasks.sweep_tokens.apply().get()
    return outcomes


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_a_fault_from_netsuite_leaves_the_stored_token_key_and_record_as_they_were(
    fault, alice_client, authentication_in_state, fake_netsuite, settings, monkeypatch, request
):
    """GIVEN a saved authentication holding a valid token that is due for refresh
    WHEN the scheduled refresh meets the fault
    THEN the token, the signing key and the record are exactly as before, the token is still
    served, and the record's page says what happened."""
    authentication = authentication_in_state("Acme ERP", token_seconds=SECONDS_LEFT)
    scene = Scene(fake_netsuite, authentication, settings, request)
    fault.arrange(scene)
    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = fault.connect_timeout
    settings.NSCONNECT_HTTP_READ_TIMEOUT = fault.read_timeout
    before = stored_state(authentication)

    began = timezone.now()
    if fault.memory_cap:
        tracemalloc.start()
    try:
        outcomes = sweep(monkeypatch)
        peak = tracemalloc.get_traced_memory()[1] if fault.memory_cap else 0
    finally:
        tracemalloc.stop()
    ended = timezone.now()

    assert outcomes == [f"failed: {fault.kind}"]
    assert (ended - began).total_seconds() < fault.connect_timeout + fault.read_timeout + 1.5
    if fault.memory_cap:
        assert peak < fault.memory_cap, f"the sweep allocated {peak // MB} MB"
    if fault.check:
        fault.check(scene)
    assert_stored_state_survived(before, authentication, fake_netsuite)
    assert_status_says(alice_client, authentication, fault, (began, ended))


# --- Retry-After sets the schedule -------------------------------------------------------------


def test_the_sweep_asks_again_only_once_retry_after_has_passed(
    authentication_in_state, fake_netsuite, monkeypatch
):
    """GIVEN a stored token with 550 s left and NetSuite answering 429 with Retry-After: 300
    WHEN the sweep runs now, 299 s later and 300 s later
    THEN NetSuite is asked now, not at 299 s (the back-off alone would have asked at 60 s), and
    again at 300 s, when the new token is stored."""
    authentication = authentication_in_state("Acme ERP", token_seconds=550)
    fake_netsuite.retry_after = "300"
    fake_netsuite.fail_next("rate_limited")
    start = timezone.now().replace(microsecond=0)

    with time_machine.travel(start, tick=False):
        assert sweep(monkeypatch) == ["failed: rate_limited"]
    for seconds in (60, 299):
        with time_machine.travel(start + dt.timedelta(seconds=seconds), tick=False):
            assert sweep(monkeypatch) == []
    assert len(fake_netsuite.requests) == 1
    with time_machine.travel(start + dt.timedelta(seconds=300), tick=False):
        [outcome] = sweep(monkeypatch)

    assert outcome.startswith("valid until")
    assert len(fake_netsuite.requests) == 2
    token = AccessToken.objects.get(authentication=authentication)
    assert token.value == fake_netsuite.issued_tokens[-1]


# --- no redirect is followed by the other calls either ----------------------------------------

REST_PATH = "/services/rest/record/v1/metadata-catalog"


@pytest.mark.parametrize("status", [302, 307, 308])
def test_the_test_request_follows_no_redirect_with_the_token(
    status, alice_client, authentication_in_state, fake_netsuite, elsewhere
):
    """GIVEN NetSuite's REST service answering with a redirect to another (allowlisted) host
    WHEN "Send test request" is pressed THEN the bearer token goes nowhere else, and the page
    says a redirect was not followed."""
    authentication = authentication_in_state("Acme ERP", token_seconds=3000)
    fake_netsuite.answer_next(status, b"", HTML, {"Location": elsewhere.origin + REST_PATH}, on="record")

    response = alice_client.post(
        f"/authentications/{authentication.identifier}/test-request/", {"path": ""}, HTTP_HX_REQUEST="true"
    )

    page = response.content.decode()
    assert f"NetSuite answered with a redirect (HTTP {status}). nsconnect does not follow redirects" in page
    assert elsewhere.requests == []
    assert [asked.path for asked in fake_netsuite.requests] == [REST_PATH]


CERTIFICATE_CALLS: dict[str, Callable[..., Any]] = {
    "list": lambda **common: list_certificates(**common),
    "add": lambda **common: add_certificate(
        **common, certificate_pem="-----BEGIN CERTIFICATE-----", role_id="3", entity_id="4"
    ),
    "revoke": lambda **common: revoke_certificate(**common, certificate_id="Cert_ID-1"),
}


@pytest.mark.parametrize("call", CERTIFICATE_CALLS)
def test_the_certificate_endpoint_follows_no_redirect(call, credentials, fake_netsuite, elsewhere):
    """GIVEN the certificate endpoint answering 307 to another (allowlisted) host
    WHEN certificates are listed, added or revoked THEN neither the bearer token nor the
    certificate goes there, and the answer says the redirect was not followed."""
    fake_netsuite.answer_next(307, b"", HTML, {"Location": elsewhere.token_url}, on="certificates")

    answer = CERTIFICATE_CALLS[call](
        token_url=fake_netsuite.token_url, access_token="a-bearer-token", client_id=credentials.consumer_key
    )

    assert answer.status == 307
    assert "redirect (HTTP 307); nsconnect does not follow it" in answer.explanation
    assert elsewhere.requests == []
    assert len(fake_netsuite.requests) == 1
