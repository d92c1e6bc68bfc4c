"""Every paste, field and upload has a size cap: an oversized value is refused with a message at
its field, before anything reads it (no key parsed, no address checked, no file spooled to disk),
and nothing is saved. A request body past DATA_UPLOAD_MAX_MEMORY_SIZE is refused whole."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files import uploadedfile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopFutureHandlers
from django.test import Client

from authentications import emails
from authentications.keys import certificates, pasted, private_keys
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import assertion, token_urls

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"
MEGABYTE = 1024 * 1024
CAPPED_UPLOADS = ["authentications.keys.pasted.CappedUploadHandler"]


def assert_refused_at(response: Any, field: str | None, fragment: str, form: str = "form") -> None:
    assert response.status_code == 422
    errors = " ".join(response.context[form].errors.get(field or "__all__", []))
    assert fragment in errors, f"{fragment!r} not in the {field} errors: {errors[:300]!r}"


def assert_nothing_saved() -> None:
    assert HttpAuthentication.objects.count() == 0
    assert SigningKey.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.fixture
def never_called(monkeypatch):
    """Watch what reads values: the test fails if it is ever handed an oversized one (the other
    fields, of normal sizes, are read as usual)."""
    called: list[str] = []

    def trap(module: Any, name: str) -> None:
        original = getattr(module, name)

        def watched(*args: Any, **kwargs: Any) -> Any:
            if any(isinstance(arg, str | bytes) and len(arg) > 64 * 1024 for arg in args):
                called.append(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, watched)

    yield trap
    assert called == [], f"read before its size was checked: {called}"


# field, what it is filled with, what the message at the field says, what must not read it
HTTP_AUTHENTICATION_FIELDS = [
    ("name", "n" * MEGABYTE, "at most 100 characters", None),
    ("certificate_id", "c" * MEGABYTE, "at most 255 characters", None),
    ("consumer_key", "a" * MEGABYTE, "at most 255 characters", None),
    ("scopes", "restlets," * (MEGABYTE // 9), "at most 100 characters", (assertion, "parse_scopes")),
    ("account_id", "1" * MEGABYTE, "at most 40 characters", (token_urls, "account_host")),
    ("token_url", "https://" + "a" * MEGABYTE, "at most 500 characters", (token_urls, "check_token_url")),
    (
        "private_key",
        "A" * (10 * MEGABYTE),
        "a private key in PEM is at most 8,192",
        (private_keys, "normalize_pem"),
    ),
    ("private_key_passphrase", "p" * MEGABYTE, "at most 1,024", None),
    (
        "certificate",
        "B" * MEGABYTE,
        "a certificate in PEM is at most 16,384",
        (certificates, "load_certificate"),
    ),
    (
        "alert_recipients",
        "a@example.com " * (MEGABYTE // 14),
        "list at most 20 addresses (2,000 characters)",
        (emails, "validate_email"),
    ),
    ("netsuite_role_id", "1" * MEGABYTE, "at most 20 characters", None),
    ("netsuite_entity_id", "1" * MEGABYTE, "at most 20 characters", None),
]


@pytest.mark.parametrize(
    ("field", "value", "message", "reader"),
    HTTP_AUTHENTICATION_FIELDS,
    ids=[field for field, *_ in HTTP_AUTHENTICATION_FIELDS],
)
def test_each_field_of_the_form_refuses_an_oversized_value_before_reading_it(
    alice_client, register, form_data, never_called, field, value, message, reader
):
    """GIVEN an HTTP Authentication form with one field a megabyte long (the key ten)
    WHEN it is saved THEN that field says how long it may be, the value was not read, and
    nothing is saved."""
    data = form_data(register("p256"), **{field: value})
    if reader:
        never_called(*reader)
    if field == "private_key":
        never_called(private_keys, "load_private_key")
    response = alice_client.post(NEW, data)
    assert_refused_at(response, field, message)
    assert_nothing_saved()


def test_a_megabyte_of_digits_as_the_generated_key_is_refused(alice_client, register, form_data):
    """GIVEN the hidden field naming a generated key pair filled with a megabyte of digits (a
    number Python refuses to read past 4,300 digits) WHEN saved THEN the form says the key pair
    was not found."""
    data = form_data(register("p256"), private_key="", signing_key="9" * MEGABYTE)
    response = alice_client.post(NEW, data)
    assert_refused_at(response, None, "This generated key pair was not found")
    assert_nothing_saved()


@pytest.fixture
def spooled(monkeypatch) -> list[str]:
    """The names of the uploads Django wrote to a temporary file on disk."""
    names: list[str] = []
    original = uploadedfile.TemporaryUploadedFile.__init__

    def spy(self, name, *args, **kwargs):
        names.append(name)
        original(self, name, *args, **kwargs)

    monkeypatch.setattr(uploadedfile.TemporaryUploadedFile, "__init__", spy)
    return names


@pytest.mark.parametrize(
    ("field", "shown_at", "message"),
    [
        ("private_key_file", "private_key", "a private key in PEM is at most 8,192"),
        ("certificate_file", "certificate", "a certificate in PEM is at most 16,384"),
    ],
)
def test_an_oversized_upload_is_refused_with_its_size_without_being_spooled(
    alice_client, register, form_data, settings, spooled, never_called, field, shown_at, message
):
    """GIVEN a 20 MB file uploaded as the private key or the certificate
    WHEN the form is saved THEN the field says how large the file is and how large it may be,
    the file was never written to disk nor read as PEM, and nothing is saved."""
    settings.FILE_UPLOAD_HANDLERS = CAPPED_UPLOADS
    never_called(private_keys, "normalize_pem")
    data = form_data(register("p256"), **{shown_at: ""})
    data[field] = SimpleUploadedFile("big.pem", b"-" * (20 * MEGABYTE))
    response = alice_client.post(NEW, data)
    assert_refused_at(response, shown_at, f"This file is {20 * MEGABYTE:,} bytes")
    assert_refused_at(response, shown_at, message)
    assert spooled == []
    assert_nothing_saved()


def test_without_the_capped_handler_django_spools_a_large_upload_to_disk(
    alice_client, register, form_data, settings, spooled
):
    """The control for the test above: Django's own handlers write any upload over 2.5 MB to a
    temporary file before the form can look at its size."""
    settings.FILE_UPLOAD_HANDLERS = [
        "django.core.files.uploadhandler.MemoryFileUploadHandler",
        "django.core.files.uploadhandler.TemporaryFileUploadHandler",
    ]
    data = form_data(register("p256"), private_key="")
    data["private_key_file"] = SimpleUploadedFile("big.pem", b"-" * (20 * MEGABYTE))
    alice_client.post(NEW, data)
    assert spooled == ["big.pem"]


def test_the_capped_handler_reads_real_key_and_certificate_files_whole(
    alice_client, register, form_data, settings
):
    """GIVEN the capped upload handler WHEN an RSA 4096 key and its certificate are uploaded as
    files THEN they are read whole and saved."""
    settings.FILE_UPLOAD_HANDLERS = CAPPED_UPLOADS
    registered = register("rsa4096")
    data = form_data(registered, private_key="", certificate="")
    data["private_key_file"] = SimpleUploadedFile("key.pem", registered.private_key_pem.encode())
    data["certificate_file"] = SimpleUploadedFile("cert.pem", registered.certificate_pem.encode())
    assert alice_client.post(NEW, data).status_code == 302
    assert HttpAuthentication.objects.get().active_key().key_size == 4096


def test_the_capped_handler_keeps_a_bounded_part_of_a_file_and_counts_the_rest():
    """However large the upload, what is kept in memory is one byte past the largest PEM cap,
    and the size the form sees is the size that was sent."""
    handler = pasted.CappedUploadHandler()
    with pytest.raises(StopFutureHandlers):
        handler.new_file("private_key_file", "big.pem", "application/x-pem-file", None)
    chunk = b"-" * (64 * 1024)
    for start in range(0, 20 * MEGABYTE, len(chunk)):
        assert handler.receive_data_chunk(chunk, start) is None  # nothing left for another handler
    upload = handler.file_complete(20 * MEGABYTE)
    assert upload.size == 20 * MEGABYTE
    assert len(upload.read()) == pasted.MAX_PEM_CHARS + 1


@pytest.fixture
def root_client(client: Client, django_user_model: Any) -> Client:
    root = django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password=None
    )
    client.force_login(root)
    return client


def test_the_key_pair_form_refuses_an_oversized_common_name(root_client):
    """GIVEN a common name a megabyte long WHEN a key pair is asked for THEN the field says
    how long it may be and no key is made."""
    response = root_client.post(
        "/authentications/keys/new/", {"kind": "p256", "days": "365", "common_name": "n" * MEGABYTE}
    )
    assert_refused_at(response, "common_name", "at most 64 characters")
    assert SigningKey.objects.count() == 0


def test_the_rotation_wizard_refuses_an_oversized_certificate_id(
    root_client, create_authentication, register
):
    """GIVEN a Certificate ID a megabyte long WHEN entered in the rotation wizard THEN the field
    says how long it may be."""
    authentication = create_authentication(register("p256"))
    response = root_client.post(
        f"/authentications/{authentication.identifier}/rotate/certificate-id/",
        {"signing_key": "1", "certificate_id": "c" * MEGABYTE},
    )
    assert_refused_at(response, "certificate_id", "at most 255 characters", form="certificate_id_form")


def test_the_api_client_form_refuses_an_oversized_name(root_client, create_authentication, register):
    """GIVEN an API client name a megabyte long WHEN the key is asked for THEN the field says
    how long it may be and no key is issued."""
    authentication = create_authentication(register("p256"))
    response = root_client.post(
        "/api-clients/new/", {"name": "n" * MEGABYTE, "authentications": [authentication.pk]}
    )
    assert_refused_at(response, "name", "at most 100 characters")
    from api.models import ApiClient

    assert ApiClient.objects.count() == 0


def test_a_body_over_the_request_cap_is_refused_before_it_is_read(alice_client, settings):
    """GIVEN a form body larger than DATA_UPLOAD_MAX_MEMORY_SIZE WHEN posted THEN Django refuses
    it (400) from its Content-Length, and nothing is saved. The cap is far above any field's, so
    that a 10 MB paste still gets its message at the field (see the test above)."""
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE > 10 * MEGABYTE + 64 * 1024
    body = "name=" + "n" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = alice_client.post(NEW, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert_nothing_saved()


def test_the_capped_upload_handler_is_the_one_every_request_uses():
    from django.conf import settings as loaded

    assert loaded.FILE_UPLOAD_HANDLERS == ["authentications.keys.pasted.CappedUploadHandler"]
