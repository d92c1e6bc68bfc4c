"""Shared fixtures: settings for tests, the fake NetSuite, users and key material."""

from __future__ import annotations

import importlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from authentications.netsuite import assertion, http_exchange, token_request
from authentications.services import authentication_records, token_single_flight
from tests import keyfactory
from tests.fake_netsuite import FakeNetSuite

# The SQLite test database lives in var/ (see settings), shared with subprocesses.
(Path(__file__).resolve().parent.parent / "var").mkdir(exist_ok=True)

# Made as the tests run; never a key from the repository.
ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def fake_netsuite_server() -> Iterator[FakeNetSuite]:
    with FakeNetSuite() as server:
        yield server


@pytest.fixture
def fake_netsuite(fake_netsuite_server: FakeNetSuite) -> Iterator[FakeNetSuite]:
    fake_netsuite_server.reset()
    yield fake_netsuite_server
    fake_netsuite_server.reset()
    fake_netsuite_server.expires_in = "3600"
    fake_netsuite_server.token_type = "Bearer"


@pytest.fixture(autouse=True)
def _nsconnect_settings(settings: Any, fake_netsuite_server: FakeNetSuite) -> None:
    settings.NSCONNECT_ENCRYPTION_KEYS = [ENCRYPTION_KEY]
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [fake_netsuite_server.origin]
    settings.NSCONNECT_HTTP_CONNECT_TIMEOUT = 2.0
    settings.NSCONNECT_HTTP_READ_TIMEOUT = 5.0
    # The manifest needs collectstatic; tests serve static files from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _alert_mail_runs_in_the_test_process(monkeypatch: Any) -> None:
    """Alert mail is a Celery task: tests run it at once, in process (with its retries), rather
    than publish it to the development broker in var/celery, where a real worker could take it."""
    from authentications import tasks

    monkeypatch.setattr(
        tasks.send_refresh_alert, "delay", lambda *args: tasks.send_refresh_alert.apply(args=args)
    )


def put_in_role(user: Any, role: str) -> Any:
    """Add a user to a role ("Integrators", "Key administrators"), a group the migration made.

    A transactional test's flush deletes the groups with everything else, so they are made again
    here the way the migration makes them."""
    from django.contrib.auth.models import Group

    roles_made()
    user.groups.add(Group.objects.get(name=role))
    return user


def roles_made() -> None:
    """The roles as the migration makes them, made again if a transactional test's flush
    deleted them (it deletes every row, the migration's too)."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    if Group.objects.filter(name__in=("Integrators", "Key administrators")).count() < 2:
        importlib.import_module("authentications.migrations.0006_roles").create_roles(apps, None)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    """Alice integrates systems with NetSuite and owns the authentications: an integrator."""
    user = django_user_model.objects.create_user(username="alice", email="alice@example.com", password="x")
    return put_in_role(user, "Integrators")


@pytest.fixture
def alice_client(client: Any, alice: Any) -> Any:
    client.force_login(alice)
    return client


@dataclass
class Registered:
    """A key pair NetSuite knows: what an integrator would paste into the form."""

    kind: str
    private_key_pem: str
    certificate_pem: str
    certificate_id: str
    consumer_key: str

    @property
    def algorithm(self) -> str:
        return keyfactory.ALGORITHM_FOR_KIND[self.kind]


def page_text(html: str) -> str:
    """A page's words as a person reads them, without the markup between them."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def new_consumer_key() -> str:
    return secrets.token_hex(32)


def new_certificate_id() -> str:
    return secrets.token_urlsafe(32)[:43]


@pytest.fixture
def register(fake_netsuite: FakeNetSuite):
    """Make (or reuse) a key of a kind, a certificate for it, and map both in the fake NetSuite."""

    def _register(
        kind: str = "p256", *, scopes: tuple[str, ...] = ("restlets", "rest_webservices")
    ) -> Registered:
        key = keyfactory.private_key(kind)
        registered = Registered(
            kind=kind,
            private_key_pem=keyfactory.private_pem(key),
            certificate_pem=keyfactory.certificate_pem(key),
            certificate_id=new_certificate_id(),
            consumer_key=new_consumer_key(),
        )
        fake_netsuite.register(
            consumer_key=registered.consumer_key,
            certificate_id=registered.certificate_id,
            certificate_pem=registered.certificate_pem,
            scopes=scopes,
        )
        return registered

    return _register


@pytest.fixture
def form_data(fake_netsuite: FakeNetSuite):
    """The HTTP Authentication form as an integrator fills it in for a registered key."""

    def _form_data(registered: Registered, **overrides: str) -> dict[str, str]:
        data = {
            "name": "Acme ERP",
            "settings_type": "oauth2",
            "provider": "netsuite",
            "jwt_algorithm": registered.algorithm,
            "certificate_id": registered.certificate_id,
            "consumer_key": registered.consumer_key,
            "scopes": "restlets,rest_webservices",
            "account_id": "",
            "token_url": fake_netsuite.token_url,
            "private_key": registered.private_key_pem,
            "private_key_passphrase": "",
            "certificate": registered.certificate_pem,
            "enabled": "on",
            "alert_recipients": "",
            "netsuite_role_id": "",
            "netsuite_entity_id": "",
        }
        data.update(overrides)
        return data

    return _form_data


@pytest.fixture
def create_authentication(form_data: Any, alice: Any):
    """Save an authentication the way the form does, for tests that start from a saved record."""
    from authentications.forms.authentication import AuthenticationForm

    def _create(registered: Registered, **overrides: str) -> Any:
        form = AuthenticationForm(data=form_data(registered, **overrides))
        assert form.is_valid(), form.errors
        assert form.key_material is not None
        return authentication_records.authentication_create(
            actor=alice, values=form.authentication_values(), key_material=form.key_material
        )

    return _create


@pytest.fixture
def authentication_in_state(register: Any, create_authentication: Any, fake_netsuite: FakeNetSuite):
    """A saved authentication whose token has `token_seconds` left (None: no token yet) and whose
    other fields are set as given (enabled, retries_stopped, next_attempt_at, lease_owner, ...).
    The fake NetSuite is reset afterwards, so a test counts only its own requests."""
    import datetime as dt

    from django.utils import timezone

    from authentications.models import AccessToken, HttpAuthentication

    def _make(name: str, *, token_seconds: int | None = None, **fields: Any) -> Any:
        authentication = create_authentication(register("p256"), name=name)
        if token_seconds is not None:
            token_single_flight.token_get(authentication=authentication, actor="test")
            expires_at = timezone.now() + dt.timedelta(seconds=token_seconds)
            AccessToken.objects.filter(authentication=authentication).update(expires_at=expires_at)
        if fields:
            HttpAuthentication.objects.filter(pk=authentication.pk).update(**fields)
        fake_netsuite.reset()
        authentication.refresh_from_db()
        return authentication

    return _make


@pytest.fixture
def credentials(register: Any, fake_netsuite: FakeNetSuite) -> Any:
    """Credentials NetSuite knows (a fresh P-256 key), as token_request.request_token takes them."""

    registered = register("p256")
    return assertion.Credentials(
        consumer_key=registered.consumer_key,
        certificate_id=registered.certificate_id,
        algorithm=registered.algorithm,
        scopes=["restlets", "rest_webservices"],
        token_url=fake_netsuite.token_url,
        private_key=keyfactory.private_key("p256"),
    )


def token_request_error(credentials: Any) -> Any:
    """The TokenRequestError a token request with these credentials ends in (it must end in one)."""
    from django.utils import timezone

    with pytest.raises(http_exchange.TokenRequestError) as raised:
        token_request.request_token(credentials, timezone.now())
    return raised.value
