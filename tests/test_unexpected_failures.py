"""Every way a token attempt can fail is a recorded failure with a message a person can act
on: a stored secret that no longer decrypts, a wiped or unusable private key, a locked
database, an error nobody foresaw. The token API answers JSON, the buttons show the message,
the worker backs off and alerts; no answer ever holds the token, even with DEBUG on."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core import mail
from django.db import connection
from django.utils import timezone

from api import services as api_services
from authentications import tasks
from authentications.keys import loaded_keys
from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import assertion, rest_request, token_request
from authentications.services import authentication_records, token_single_flight, token_sweep
from tests import keyfactory
from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db(transaction=True)

# What an unforeseen error's message might quote: it must reach no page, record or log.
LEAKY_MESSAGE = "Authorization: Bearer leaked-secret-value"


def retrieve_url(authentication: HttpAuthentication) -> str:
    return f"/authentications/{authentication.identifier}/retrieve-token/"


def _active(authentication: HttpAuthentication) -> Any:
    return SigningKey.objects.filter(authentication=authentication, state=SigningKey.State.ACTIVE)


def _store_private_key(authentication: HttpAuthentication, pem: str) -> None:
    signing_key = _active(authentication).defer("private_key").get()
    signing_key.private_key = pem
    signing_key.save(update_fields=["private_key"])
    # Loaded keys are cached per process: this one must be read again.
    loaded_keys.forget_loaded_key((signing_key.pk, signing_key.fingerprint_sha256))


def encryption_key_removed(authentication: HttpAuthentication, settings: Any, monkeypatch: Any) -> None:
    settings.NSCONNECT_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


def private_key_wiped(authentication: HttpAuthentication, settings: Any, monkeypatch: Any) -> None:
    _active(authentication).update(private_key="")


def private_key_blank(authentication: HttpAuthentication, settings: Any, monkeypatch: Any) -> None:
    _store_private_key(authentication, "   \n")  # encrypted as any text: only a blank once decrypted


def private_key_not_for_netsuite(authentication: HttpAuthentication, settings: Any, monkeypatch: Any) -> None:
    _store_private_key(authentication, keyfactory.private_pem(keyfactory.private_key("ed25519")))


def private_key_damaged(authentication: HttpAuthentication, settings: Any, monkeypatch: Any) -> None:
    _store_private_key(authentication, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def something_unforeseen(authentication: HttpAuthentication, settings: Any, monkeypatch: Any) -> None:
    def explode(credentials: assertion.Credentials, now: dt.datetime) -> token_request.TokenResponse:
        raise RuntimeError(LEAKY_MESSAGE)

    monkeypatch.setattr(token_request, "request_token", explode)


Break = Callable[[HttpAuthentication, Any, Any], None]
CASES: list[tuple[Break, str, str]] = [
    (encryption_key_removed, "undecryptable", "cannot be decrypted with NSCONNECT_ENCRYPTION_KEYS"),
    (private_key_wiped, "no_private_key", "has no private key (it was wiped or never stored)"),
    (private_key_blank, "no_private_key", "has no private key (it was wiped or never stored)"),
    (private_key_not_for_netsuite, "unusable_key", "The stored private key is an Ed25519 key"),
    (private_key_damaged, "unusable_key", "The stored private key is damaged"),
    (something_unforeseen, "internal", "unexpected error (RuntimeError)"),
]
IDS = [case[0].__name__ for case in CASES]


@pytest.fixture
def acme(register, create_authentication, fake_netsuite, settings, alice) -> HttpAuthentication:
    """Acme ERP with a token that has just expired, so the next request asks NetSuite again."""
    settings.DEBUG = True  # a debug 500 page would show the bearer token: there must be none
    authentication = create_authentication(register("p256"), alert_recipients="owner@example.com")
    token_single_flight.token_get(authentication=authentication, actor="test")
    AccessToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    fake_netsuite.reset()
    return authentication


@pytest.fixture
def old_token(acme) -> str:
    return AccessToken.objects.defer("authentication").get(authentication=acme).value


def assert_no_secret(content: bytes | str, token: str) -> None:
    text = content.decode() if isinstance(content, bytes) else content
    assert token not in text
    assert "Bearer " not in text
    assert "leaked-secret-value" not in text


def assert_recorded(authentication: HttpAuthentication, kind: str, text: str) -> None:
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert row.last_error_kind == kind
    assert text in row.last_error
    assert row.consecutive_failures == 1
    assert row.next_attempt_at is not None and row.next_attempt_at > timezone.now()
    event = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_FAILED).get()
    assert event.details["kind"] == kind
    assert text in event.details["message"]


@pytest.mark.parametrize(("break_it", "kind", "text"), CASES, ids=IDS)
def test_the_token_api_answers_json_with_the_reason(
    client, acme, old_token, alice, settings, monkeypatch, break_it, kind, text
):
    """GIVEN a record broken in one of the ways a stored record can break
    WHEN a service asks the token API for a token
    THEN it gets 503 JSON with the reason and a Retry-After, the failure is recorded with back-off
    and an audit event, and nothing in the answer is a token."""
    key = api_services.api_client_create(actor=alice, name="Orders ETL", authentications=[acme]).key
    break_it(acme, settings, monkeypatch)

    response = get_token(client, "acme-erp", key)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "token_unavailable"
    assert text in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 66
    assert_no_secret(response.content, old_token)
    assert_recorded(acme, kind, text)


@pytest.mark.parametrize(("break_it", "kind", "text"), CASES, ids=IDS)
def test_the_retrieve_button_shows_the_reason(
    alice_client, acme, old_token, settings, monkeypatch, break_it, kind, text
):
    """GIVEN a broken record WHEN an integrator presses Retrieve (with htmx)
    THEN the result beside the button explains it, and the failure is recorded."""
    alice_client.raise_request_exception = False
    break_it(acme, settings, monkeypatch)

    response = alice_client.post(retrieve_url(acme), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert text in response.content.decode()
    assert_no_secret(response.content, old_token)
    assert_recorded(acme, kind, text)


@pytest.mark.parametrize(("break_it", "kind", "text"), CASES, ids=IDS)
def test_without_javascript_the_retrieve_button_shows_the_reason_on_the_page(
    alice_client, acme, old_token, settings, monkeypatch, break_it, kind, text
):
    alice_client.raise_request_exception = False
    break_it(acme, settings, monkeypatch)

    response = alice_client.post(retrieve_url(acme), follow=True)

    assert response.status_code == 200
    assert text in response.content.decode()
    assert_no_secret(response.content, old_token)


@pytest.mark.parametrize(("break_it", "kind", "text"), CASES, ids=IDS)
def test_the_worker_records_backs_off_and_alerts_without_a_traceback(
    acme, settings, monkeypatch, caplog, break_it, kind, text
):
    """GIVEN a broken record WHEN the scheduler's refresh runs whenever back-off allows
    THEN each run returns a short status and logs no traceback, the waits grow, and the
    third failure mails the people concerned once."""
    break_it(acme, settings, monkeypatch)
    statuses, waits = [], []
    now = timezone.now()
    for _ in range(4):
        with time_machine.travel(now, tick=False):
            statuses.append(tasks.refresh_token(acme.pk))
        row = HttpAuthentication.objects.get(pk=acme.pk)
        assert row.next_attempt_at is not None
        waits.append(round((row.next_attempt_at - now).total_seconds()))
        now = row.next_attempt_at

    assert statuses == [f"failed: {kind}"] * 4
    assert waits[0] >= 60 and waits == sorted(waits) and waits[3] > waits[0]
    assert [record for record in caplog.records if record.exc_info] == []
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_FAILED).count() == 4
    assert len(mail.outbox) == 1
    assert "token refresh failing" in mail.outbox[0].subject
    assert "leaked-secret-value" not in caplog.text
    assert HttpAuthentication.objects.get(pk=acme.pk).failure_alert_sent


@pytest.mark.parametrize(("break_it", "kind", "text"), CASES, ids=IDS)
def test_the_sweep_records_a_record_broken_after_its_key_was_loaded(
    acme, fake_netsuite, settings, monkeypatch, caplog, break_it, kind, text
):
    """GIVEN a record the sweep has refreshed (its key loaded from the stored ciphertext) WHEN
    the record breaks and its token is due again THEN the sweep's next refresh fails with the
    reason, recorded, and signs nothing with the key it had loaded."""
    assert token_sweep.refresh_claimed(acme.pk).startswith("valid until")
    AccessToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    requests_before = len(fake_netsuite.requests)
    break_it(acme, settings, monkeypatch)

    assert token_sweep.refresh_claimed(acme.pk) == f"failed: {kind}"

    assert_recorded(acme, kind, text)
    assert len(fake_netsuite.requests) == requests_before
    assert [record for record in caplog.records if record.exc_info] == []


def test_the_form_retrieve_button_shows_an_unforeseen_error(
    alice_client, register, form_data, settings, monkeypatch
):
    """GIVEN the unsaved form WHEN Retrieve meets an error nobody foresaw
    THEN the page says so (200, not a 500 debug page with the assertion)."""
    settings.DEBUG = True
    alice_client.raise_request_exception = False
    something_unforeseen(HttpAuthentication(), settings, monkeypatch)

    response = alice_client.post(
        "/authentications/new/",
        {**form_data(register("p256")), "retrieve_token": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "unexpected error (RuntimeError)" in response.content.decode()
    assert_no_secret(response.content, "leaked-secret-value")


def test_send_test_request_shows_an_unforeseen_error(alice_client, acme, monkeypatch):
    """GIVEN a working token WHEN the test request meets an error nobody foresaw (its message
    quoting the bearer token) THEN the page says what happened and shows no token."""
    alice_client.raise_request_exception = False
    token = token_single_flight.token_get(authentication=acme, actor="test").value

    def explode(*, token_url: str, access_token: str, path: str) -> rest_request.TestResponse:
        raise RuntimeError(f"Authorization: Bearer {access_token}")

    monkeypatch.setattr(rest_request, "send_test_request", explode)
    for headers in ({"HTTP_HX_REQUEST": "true"}, {}):
        response = alice_client.post(f"/authentications/{acme.identifier}/test-request/", **headers)
        assert response.status_code == 200
        assert "unexpected error (RuntimeError)" in response.content.decode()
        assert_no_secret(response.content, token)


def test_the_token_api_answers_json_for_an_error_outside_the_attempt(client, acme, alice, monkeypatch):
    """GIVEN an error nobody foresaw around the attempt itself WHEN a service asks
    THEN it gets 500 JSON with a generic detail: no HTML page, no message that could hold a token."""
    key = api_services.api_client_create(actor=alice, name="Orders ETL", authentications=[acme]).key
    client.raise_request_exception = False

    def explode(*args: Any, **kwargs: Any) -> AccessToken:
        raise RuntimeError(LEAKY_MESSAGE)

    monkeypatch.setattr(token_single_flight, "token_for_consumer", explode)
    response = get_token(client, "acme-erp", key)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "error": "internal_error",
        "detail": "nsconnect met an unexpected error; its log has the details.",
    }


class OtherProcess:
    """Another process that takes SQLite's write lock (as a long write would) and lets it go."""

    def __init__(self, name: str) -> None:
        self.connection = sqlite3.connect(name, isolation_level=None)

    def lock(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def unlock(self) -> None:
        self.connection.execute("ROLLBACK")


@pytest.fixture
def other_process() -> Iterator[OtherProcess]:
    """Another process on the test database; this connection waits 0.2 s for its lock
    instead of the configured 20 s."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock")
    connection.ensure_connection()
    connection.connection.execute("PRAGMA busy_timeout = 200")
    other = OtherProcess(connection.settings_dict["NAME"])
    yield other
    other.connection.close()


def test_a_locked_database_is_a_clean_failure_everywhere(client, alice_client, acme, alice, other_process):
    """GIVEN SQLite locked by another process past its timeout
    WHEN a service, the Retrieve button and the worker want a token
    THEN the service gets 503 JSON, the button a message, the worker a short status."""
    key = api_services.api_client_create(actor=alice, name="Orders ETL", authentications=[acme]).key
    alice_client.raise_request_exception = client.raise_request_exception = False
    other_process.lock()

    response = get_token(client, "acme-erp", key)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "database is busy" in response.json()["detail"]
    assert response["Retry-After"] == "5"

    page = alice_client.post(retrieve_url(acme), HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert "The database did not answer in time" in page.content.decode()

    assert tasks.refresh_token(acme.pk) == "failed: database"
    other_process.unlock()
    assert get_token(client, "acme-erp", key).status_code == 200


def test_a_database_locked_after_netsuite_answered_is_a_failure_and_the_next_attempt_works(
    acme, fake_netsuite, monkeypatch, other_process
):
    """GIVEN the database locked between NetSuite's answer and storing the token
    WHEN the worker refreshes THEN it reports the failure (not a traceback), and the
    next attempt, the lock gone, stores a token."""
    real_request_token = token_request.request_token

    def answer_then_lock(credentials: assertion.Credentials, now: dt.datetime) -> token_request.TokenResponse:
        answer = real_request_token(credentials, now)
        other_process.lock()
        return answer

    monkeypatch.setattr(token_request, "request_token", answer_then_lock)
    assert tasks.refresh_token(acme.pk) == "failed: database"
    assert AccessToken.objects.get(authentication=acme).expires_at < timezone.now()

    other_process.unlock()
    monkeypatch.setattr(token_request, "request_token", real_request_token)
    assert tasks.refresh_token(acme.pk).startswith("valid until")
    assert AccessToken.objects.get(authentication=acme).value == fake_netsuite.issued_tokens[-1]


@pytest.mark.parametrize("page", ["create", "edit"])
def test_a_database_that_refuses_a_save_keeps_the_form_and_saves_nothing(
    alice_client, register, form_data, acme, monkeypatch, page
):
    """GIVEN a database that refuses writes (SQLite locked past its timeout) WHEN an integrator
    saves the create or edit form THEN the form comes back with a message (503), nothing is
    saved, and no error page is shown."""
    from django.db import OperationalError

    def locked(**kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    alice_client.raise_request_exception = False
    monkeypatch.setattr(authentication_records, "authentication_create", locked)
    monkeypatch.setattr(authentication_records, "authentication_update", locked)
    if page == "create":
        response = alice_client.post("/authentications/new/", form_data(register("p256"), name="Beta ERP"))
    else:
        data = form_data(register("p256"), name="Acme ERP", private_key="", scopes="restlets")
        data["consumer_key"] = acme.consumer_key
        data["certificate_id"] = acme.active_key().certificate_id
        data["certificate"] = acme.active_key().certificate_pem
        response = alice_client.post(f"/authentications/{acme.identifier}/edit/", data)

    assert response.status_code == 503
    assert "nothing was saved" in response.content.decode()
    assert HttpAuthentication.objects.count() == 1
    assert HttpAuthentication.objects.get().scopes == "restlets,rest_webservices"
