"""Error pages and error mails with DEBUG on: whatever breaks, no private key, passphrase,
access token or assertion is on the page (hole 11 of issue 8)."""

from __future__ import annotations

import re
import secrets
import sys
from urllib.parse import quote_plus, urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django.views.debug import ExceptionReporter

from authentications.keys import pasted, private_keys
from authentications.netsuite import token_request
from authentications.services import authentication_records, token_attempt
from tests import keyfactory
from tests.conftest import put_in_role

pytestmark = pytest.mark.django_db

PASSPHRASE = "correct horse battery staple 42"
HIDDEN = "********************"


class Boom(RuntimeError):
    """An error nobody expects, raised where the secrets are in reach."""


def pem_pieces(pem: str) -> list[str]:
    """Every 40-character piece of the PEM's base64 body: any one found on a page is a leak."""
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return [body[i : i + 40] for i in range(0, len(body) - 40, 20)]


def assert_none_on(page: str, secrets: list[str]) -> None:
    found = [secret for secret in secrets if secret and secret in page]
    assert not found, f"{len(found)} secret pieces on the page, first: {found[0][:12]}..."


def debug_page_of_an_error() -> str:
    """The debug page of an error raised here, where no secret is in reach but the settings."""
    try:
        raise Boom("anything")
    except Boom:
        return ExceptionReporter(None, *sys.exc_info()).get_traceback_html()


@pytest.fixture
def debug_client(settings, alice) -> Client:
    """A signed-in integrator, DEBUG on, and a 500 answered with Django's debug page."""
    settings.DEBUG = True
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


def test_a_crash_while_the_form_reads_the_key_shows_neither_key_nor_passphrase(
    debug_client, register, form_data, monkeypatch
):
    """GIVEN an encrypted private key and its passphrase posted on the create form
    WHEN something breaks while the form reads the key
    THEN the debug page shows the posted fields as stars and no piece of the key."""
    registered = register("p256")
    encrypted = keyfactory.private_pem(keyfactory.private_key("p256"), passphrase=PASSPHRASE)

    def boom(*args, **kwargs):
        raise Boom("while reading the key")

    monkeypatch.setattr(pasted, "read_pem", boom)
    response = debug_client.post(
        "/authentications/new/",
        form_data(registered, private_key=encrypted, private_key_passphrase=PASSPHRASE),
    )

    assert response.status_code == 500
    page = response.content.decode()
    assert "while reading the key" in page  # the debug page it is
    assert HIDDEN in page
    assert_none_on(page, [PASSPHRASE, *pem_pieces(encrypted), *pem_pieces(registered.private_key_pem)])


def test_a_crash_while_saving_shows_no_piece_of_the_key(debug_client, register, form_data, monkeypatch):
    """GIVEN a valid create form WHEN saving breaks after the key was read and re-encoded
    THEN neither the pasted nor the re-encoded key is on the debug page."""
    registered = register("rsa3072")

    def boom(*, key_material, **kwargs):
        raise Boom("while saving")

    monkeypatch.setattr(authentication_records, "authentication_create", boom)
    response = debug_client.post("/authentications/new/", form_data(registered))

    assert response.status_code == 500
    page = response.content.decode()
    assert "while saving" in page
    assert_none_on(page, pem_pieces(registered.private_key_pem))


def test_a_crash_after_a_token_was_issued_shows_neither_token_nor_assertion(
    settings, register, create_authentication, fake_netsuite, monkeypatch
):
    """GIVEN a token request NetSuite answers WHEN reading its answer breaks
    THEN the debug page and the error mail of that error hold neither the token nor the
    assertion that was sent."""
    settings.DEBUG = True
    authentication = create_authentication(register("p256"))
    signing_key = authentication.active_key()
    credentials = token_attempt.credentials_for(authentication, signing_key)

    def boom(*args, **kwargs):
        raise Boom("while reading the answer")

    monkeypatch.setattr(token_request, "TokenResponse", boom)
    with pytest.raises(Boom) as raised:
        token_request.request_token(credentials, timezone.now())
    # Drawn before this test holds the secrets itself: the page shows this frame's variables too.
    reporter = ExceptionReporter(None, raised.type, raised.value, raised.tb)
    pages = (reporter.get_traceback_html(), reporter.get_traceback_text())
    (sent,) = fake_netsuite.requests
    assertion = sent.form["client_assertion"][0]
    issued = fake_netsuite.issued_tokens[-1]

    for page in pages:
        assert "while reading the answer" in page
        assert HIDDEN in page
        assert_none_on(page, [assertion, issued, *assertion.split(".")])


def test_settings_that_carry_passwords_are_hidden_on_the_debug_page(settings):
    """GIVEN a broker URL with a password WHEN a debug page is drawn THEN the password is not on it."""
    settings.DEBUG = True
    password = secrets.token_hex(12)  # made here: the page shows this test's source lines
    settings.CELERY_BROKER_URL = f"redis://:{password}@redis.example.com:6379/0"
    page = debug_page_of_an_error()
    assert password not in page
    assert re.search(r"CELERY_BROKER_URL.*?\*{20}", page, flags=re.DOTALL)


def test_key_administrators_pages_hide_the_generated_key_too(settings, alice, monkeypatch):
    """GIVEN a key pair being generated WHEN saving it breaks THEN the debug page holds no piece of it."""

    settings.DEBUG = True
    put_in_role(alice, "Key administrators")
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    generated: list[str] = []
    original = private_keys.serialize_private_key

    def keep_and_boom(key):
        generated.append(original(key))
        raise Boom("while storing the generated key")

    monkeypatch.setattr(private_keys, "serialize_private_key", keep_and_boom)
    response = client.post("/authentications/keys/new/", {"kind": "p256", "days": "365", "common_name": "x"})

    assert response.status_code == 500
    page = response.content.decode()
    assert "while storing the generated key" in page
    assert_none_on(page, pem_pieces(generated[0]))


@pytest.fixture
def csrf_checking_client(settings, alice) -> Client:
    """As debug_client, but checking CSRF as a browser's requests are checked: the middleware
    then reads the body before any view, so before any view could mark a field sensitive."""
    settings.DEBUG = True
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    client.force_login(alice)
    client.cookies[settings.CSRF_COOKIE_NAME] = "a" * 32  # so the middleware reads the body
    return client


@pytest.fixture
def posted_secrets(register, form_data) -> tuple[dict[str, str], list[str]]:
    """The create form with an encrypted key and its passphrase, and the pieces that must not leak."""
    registered = register("p256")
    encrypted = keyfactory.private_pem(keyfactory.private_key("p256"), passphrase=PASSPHRASE)
    data = form_data(registered, private_key=encrypted, private_key_passphrase=PASSPHRASE)
    return data, [PASSPHRASE, *pem_pieces(encrypted)]


def test_a_request_refused_before_the_view_shows_no_secret_either(debug_client, posted_secrets):
    """GIVEN the create form posted with a Host header nsconnect does not serve
    WHEN Django refuses it before any view runs (DisallowedHost, DEBUG on)
    THEN the page it shows holds neither the key nor the passphrase."""
    data, secrets_ = posted_secrets
    response = debug_client.post("/authentications/new/", data, HTTP_HOST="evil.example")

    assert response.status_code == 400
    page = response.content.decode()
    assert "DisallowedHost" in page
    assert_none_on(page, secrets_)


def test_too_many_fields_shows_no_secret(csrf_checking_client, posted_secrets):
    """GIVEN the create form posted with more fields than Django reads WHEN it refuses the body
    THEN the debug page, which shows the frames that were reading it, holds no secret."""
    data, secrets_ = posted_secrets
    body = urlencode({**data, **{f"padding{n}": "x" for n in range(1001)}})
    response = csrf_checking_client.post(
        "/authentications/new/", body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "TooManyFields" in page
    assert_none_on(page, [*secrets_, *(quote_plus(piece) for piece in secrets_)])


def test_too_many_files_in_a_multipart_body_shows_no_secret(csrf_checking_client, posted_secrets, settings):
    """GIVEN a multipart create form with more files than Django reads WHEN it refuses the body
    THEN no secret read so far is on the debug page."""
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    data, secrets_ = posted_secrets
    files = {f"file{n}": SimpleUploadedFile(f"f{n}.txt", b"x") for n in range(3)}
    response = csrf_checking_client.post("/authentications/new/", {**data, **files})

    assert response.status_code == 400
    page = response.content.decode()
    assert "TooManyFiles" in page
    assert_none_on(page, secrets_)


def test_a_body_django_cannot_decode_still_gets_its_error_page(csrf_checking_client, posted_secrets):
    """GIVEN a form body in a charset Django cannot read, sent with a Host nsconnect does not serve
    WHEN Django refuses it THEN the answer is its 400 page (no secret on it), not a bare 500 from an
    error page that failed to draw."""
    data, secrets_ = posted_secrets
    response = csrf_checking_client.post(
        "/authentications/new/",
        urlencode(data),  # the client encodes it in the charset named
        content_type="application/x-www-form-urlencoded; charset=utf-16",
        HTTP_HOST="evil.example",
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "DisallowedHost" in page
    assert_none_on(page, secrets_)
