"""The form refuses what NetSuite would refuse, with a message at the field, and saves nothing."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from tests import keyfactory

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"


def field_errors(response, name: str) -> list[str]:
    return response.context["form"].errors.get(name, [])


def assert_refused(response, field: str, *fragments: str) -> None:
    """GIVEN a bad value WHEN saved THEN the page names the problem at its field and stores nothing."""
    assert response.status_code == 422
    errors = " ".join(field_errors(response, field))
    for fragment in fragments:
        assert fragment in errors, f"{fragment!r} not in {field} errors: {errors!r}"
    assert HttpAuthentication.objects.count() == 0
    assert SigningKey.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_it_saves_a_valid_form_with_its_first_active_key(alice_client, register, form_data):
    registered = register("p256")
    response = alice_client.post(NEW, form_data(registered))
    assert response.status_code == 302
    authentication = HttpAuthentication.objects.get()
    assert response["Location"] == f"/authentications/{authentication.identifier}/"
    assert authentication.identifier == "acme-erp"
    key = authentication.active_key()
    assert key is not None
    assert key.certificate_id == registered.certificate_id
    assert (key.key_type, key.curve) == ("EC", "P-256")
    assert AuditEvent.objects.get().action == "authentication.create"
    page = alice_client.get(response["Location"]).content.decode()
    assert "Saved Acme ERP. The worker retrieves its first token within a minute" in page


@pytest.mark.parametrize(
    ("kind", "described"),
    [
        ("rsa2048", "2048-bit RSA key"),
        ("p192", "curve secp192r1"),
        ("secp256k1", "curve secp256k1"),
        ("ed25519", "Ed25519 key"),
    ],
)
def test_it_refuses_keys_netsuite_refuses(alice_client, form_data, register, kind, described):
    registered = register("p256")
    key = keyfactory.private_key(kind)
    data = form_data(
        registered,
        private_key=keyfactory.private_pem(key),
        certificate=keyfactory.certificate_pem(key),
    )
    response = alice_client.post(NEW, data)
    assert_refused(response, "private_key", "NetSuite accepts RSA keys of 3072 or 4096 bits", described)


def test_it_refuses_text_that_is_not_a_pem_key(alice_client, form_data, register):
    response = alice_client.post(NEW, form_data(register("p256"), private_key="hello"))
    assert_refused(response, "private_key", "not a PEM private key")


def test_it_refuses_a_damaged_key(alice_client, form_data, register):
    registered = register("p256")
    damaged = registered.private_key_pem.replace("M", "A", 3)
    response = alice_client.post(NEW, form_data(registered, private_key=damaged))
    assert_refused(response, "private_key", "could not be read")


def test_it_refuses_a_certificate_pasted_as_the_key(alice_client, form_data, register):
    registered = register("p256")
    response = alice_client.post(NEW, form_data(registered, private_key=registered.certificate_pem))
    assert_refused(response, "private_key", "certificate, not a private key")


def test_it_repairs_literal_newlines_and_windows_line_ends(alice_client, form_data, register):
    registered = register("rsa3072")
    mangled = registered.private_key_pem.replace("\n", "\\n")
    certificate = registered.certificate_pem.replace("\n", "\r\n")
    response = alice_client.post(NEW, form_data(registered, private_key=mangled, certificate=certificate))
    assert response.status_code == 302
    assert HttpAuthentication.objects.get().active_key().key_size == 3072


def test_it_repairs_a_key_whose_newlines_were_lost(alice_client, form_data, register):
    registered = register("p384")
    one_line = registered.private_key_pem.replace("\n", " ")
    response = alice_client.post(NEW, form_data(registered, private_key=one_line))
    assert response.status_code == 302


def test_it_reads_traditional_pem_keys(alice_client, form_data, register):
    registered = register("p521")
    traditional = keyfactory.private_pem(keyfactory.private_key("p521"), fmt="traditional")
    assert "BEGIN EC PRIVATE KEY" in traditional
    response = alice_client.post(NEW, form_data(registered, private_key=traditional))
    assert response.status_code == 302


def test_it_opens_an_encrypted_key_with_its_passphrase(alice_client, form_data, register):
    registered = register("rsa3072")
    encrypted = keyfactory.private_pem(keyfactory.private_key("rsa3072"), passphrase="s3cret words")
    response = alice_client.post(
        NEW, form_data(registered, private_key=encrypted, private_key_passphrase="s3cret words")
    )
    assert response.status_code == 302
    # The stored key opens without the passphrase, which was never kept.
    stored = HttpAuthentication.objects.get().active_key().private_key
    assert "ENCRYPTED" not in stored and "BEGIN PRIVATE KEY" in stored
    assert "s3cret words" not in str(list(AuditEvent.objects.values()))


def test_it_asks_for_the_passphrase_of_an_encrypted_key(alice_client, form_data, register):
    registered = register("p256")
    encrypted = keyfactory.private_pem(keyfactory.private_key("p256"), passphrase="s3cret")
    response = alice_client.post(NEW, form_data(registered, private_key=encrypted))
    assert_refused(response, "private_key_passphrase", "This private key is encrypted")


def test_it_says_when_the_passphrase_is_wrong(alice_client, form_data, register):
    registered = register("p256")
    encrypted = keyfactory.private_pem(keyfactory.private_key("p256"), passphrase="s3cret")
    response = alice_client.post(
        NEW, form_data(registered, private_key=encrypted, private_key_passphrase="wrong")
    )
    assert_refused(response, "private_key_passphrase", "does not open the private key")


@pytest.mark.parametrize(
    ("kind", "algorithm", "fragment"),
    [
        ("rsa3072", "ES256", "choose PS256 or PS384 or PS512"),
        ("p256", "PS256", "choose ES256"),
        ("p256", "ES384", "choose ES256"),
        ("p384", "ES512", "choose ES384"),
        ("p521", "ES256", "choose ES512"),
    ],
)
def test_it_refuses_an_algorithm_that_does_not_fit_the_key(
    alice_client, form_data, register, kind, algorithm, fragment
):
    response = alice_client.post(NEW, form_data(register(kind), jwt_algorithm=algorithm))
    assert_refused(response, "jwt_algorithm", fragment)


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512", "HS256", "none"])
def test_it_does_not_offer_algorithms_netsuite_refuses(alice_client, form_data, register, algorithm):
    page = alice_client.get(NEW).content.decode()
    assert f'value="{algorithm}"' not in page
    response = alice_client.post(NEW, form_data(register("rsa3072"), jwt_algorithm=algorithm))
    assert_refused(response, "jwt_algorithm", "Select a valid choice")


def test_it_refuses_a_certificate_of_another_key(alice_client, form_data, register):
    registered = register("p256")
    other = keyfactory.certificate_pem(keyfactory.private_key("p256", copy=1))
    response = alice_client.post(NEW, form_data(registered, certificate=other))
    assert_refused(response, "certificate", "belongs to another key")


def test_it_refuses_an_expired_certificate(alice_client, form_data, register):
    registered = register("p256")
    expired = keyfactory.certificate_pem(
        keyfactory.private_key("p256"),
        not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=40),
        days=30,
    )
    response = alice_client.post(NEW, form_data(registered, certificate=expired))
    assert_refused(response, "certificate", "expired on")


def test_it_refuses_text_that_is_not_a_certificate(alice_client, form_data, register):
    response = alice_client.post(NEW, form_data(register("p256"), certificate="not a certificate"))
    assert_refused(response, "certificate", "not an X.509 certificate")


def test_it_warns_when_netsuite_will_cut_a_long_certificate(alice_client, form_data, register):
    registered = register("p256")
    long_lived = keyfactory.certificate_pem(keyfactory.private_key("p256"), days=3650)
    response = alice_client.post(NEW, form_data(registered, certificate=long_lived), follow=True)
    assert "NetSuite cuts any certificate to two years" in response.content.decode()
    key = HttpAuthentication.objects.get().active_key()
    assert key.is_cut_by_netsuite
    # No upload day given: NetSuite's two years count from the certificate's notBefore.
    assert key.effective_expires_at == key.not_before + dt.timedelta(days=730)


@pytest.mark.parametrize(
    ("scopes", "fragment"),
    [
        ("restlets,webservices", "Unknown scope webservices"),
        ("restlets,restlets", "restlets is listed more than once"),
        ("mcp,restlets", "mcp scope cannot be combined"),
        ("", "Tick at least one scope"),
    ],
)
def test_it_refuses_scopes_netsuite_does_not_know(alice_client, form_data, register, scopes, fragment):
    response = alice_client.post(NEW, form_data(register("p256"), scopes=scopes))
    assert_refused(response, "scopes", fragment)


def test_it_normalises_scopes(alice_client, form_data, register):
    response = alice_client.post(NEW, form_data(register("p256"), scopes=" Restlets , rest_webservices "))
    assert response.status_code == 302
    assert HttpAuthentication.objects.get().scopes == "restlets,rest_webservices"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token", "https://"),
        ("https://1234567_sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token", "1234567-sb1"),
        (
            "https://1234567.restlets.api.netsuite.com/services/rest/auth/oauth2/v1/token",
            "not the token host",
        ),
        ("https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/authorize", "path"),
        ("https://login.example.com/services/rest/auth/oauth2/v1/token", "NSCONNECT_TOKEN_URL_ALLOWLIST"),
    ],
)
def test_it_refuses_urls_that_are_not_netsuite_token_urls(alice_client, form_data, register, url, fragment):
    response = alice_client.post(NEW, form_data(register("p256"), token_url=url))
    assert_refused(response, "token_url", fragment)


def test_it_makes_the_url_from_a_sandbox_account_id(alice_client, form_data, register):
    data = form_data(register("p256"), account_id="1234567_SB1", token_url="")
    assert alice_client.post(NEW, data).status_code == 302
    authentication = HttpAuthentication.objects.get()
    assert authentication.token_url == (
        "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    )
    assert authentication.account_id == "1234567_SB1"


def test_it_accepts_a_netsuite_token_url(alice_client, form_data, register):
    url = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    assert alice_client.post(NEW, form_data(register("p256"), token_url=url)).status_code == 302


def test_it_refuses_an_account_id_that_contradicts_the_url(alice_client, form_data, register):
    url = "https://7654321.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
    response = alice_client.post(NEW, form_data(register("p256"), account_id="1234567", token_url=url))
    assert_refused(response, "account_id", "1234567.suitetalk.api.netsuite.com")


def test_it_needs_a_url_or_an_account_id(alice_client, form_data, register):
    response = alice_client.post(NEW, form_data(register("p256"), token_url="", account_id=""))
    assert_refused(response, "token_url", "Enter the Authentication URL, or an Account ID")


def test_it_refuses_the_application_id_as_consumer_key(alice_client, form_data, register):
    response = alice_client.post(
        NEW, form_data(register("p256"), consumer_key="A1B2C3D4-1111-2222-3333-444455556666")
    )
    assert_refused(response, "consumer_key", "Application ID")


def test_it_refuses_a_consumer_key_that_is_not_64_hex(alice_client, form_data, register):
    response = alice_client.post(NEW, form_data(register("p256"), consumer_key="abc123"))
    assert_refused(response, "consumer_key", "64 hexadecimal characters")


def test_it_refuses_a_certificate_id_with_spaces(alice_client, form_data, register):
    response = alice_client.post(NEW, form_data(register("p256"), certificate_id="abc def"))
    assert_refused(response, "certificate_id", "letters, digits")


def test_it_refuses_a_name_already_taken(alice_client, form_data, register, create_authentication):
    create_authentication(register("p256"))
    before = (HttpAuthentication.objects.count(), AuditEvent.objects.count())
    response = alice_client.post(NEW, form_data(register("p256"), name="ACME  erp"))
    assert response.status_code == 422
    assert "acme-erp" in " ".join(field_errors(response, "name"))
    assert (HttpAuthentication.objects.count(), AuditEvent.objects.count()) == before


def test_it_refuses_a_name_that_is_a_page(alice_client, form_data, register):
    response = alice_client.post(NEW, form_data(register("p256"), name="New"))
    assert_refused(response, "name", "reserved")


def test_it_gives_a_message_for_a_ten_megabyte_paste(alice_client, form_data, register):
    huge = "A" * (10 * 1024 * 1024)
    response = alice_client.post(NEW, form_data(register("p256"), private_key=huge))
    assert_refused(response, "private_key", "10,485,760 characters")


def test_it_reads_uploaded_key_and_certificate_files(alice_client, form_data, register):
    from django.core.files.uploadedfile import SimpleUploadedFile

    registered = register("rsa4096")
    data = form_data(registered, private_key="", certificate="")
    data["private_key_file"] = SimpleUploadedFile("auth-key.pem", registered.private_key_pem.encode())
    data["certificate_file"] = SimpleUploadedFile("auth-cert.pem", registered.certificate_pem.encode())
    assert alice_client.post(NEW, data).status_code == 302
    assert HttpAuthentication.objects.get().active_key().key_size == 4096


def test_it_refuses_an_uploaded_file_that_is_too_large(alice_client, form_data, register):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = form_data(register("p256"), certificate="")
    data["certificate_file"] = SimpleUploadedFile("cert.p12", b"\0" * 100_000)
    response = alice_client.post(NEW, data)
    assert_refused(response, "certificate", "100,000 bytes")


def test_it_keeps_what_was_typed_and_the_key_out_of_the_page(alice_client, form_data, register):
    """GIVEN a good key and a bad scope WHEN saved THEN the page shows what was typed, and the key
    only as its facts: the server keeps it for the form, so it need not be pasted again."""
    registered = register("p256")
    response = alice_client.post(NEW, form_data(registered, scopes="restlets,nope"))
    page = response.content.decode()
    assert registered.consumer_key in page
    assert registered.certificate_id in page
    assert registered.private_key_pem.splitlines()[1] not in page
    assert "Kept for this form: <strong>EC P-256</strong>" in page
    assert "paste it (or choose its file) again" not in page
    # A key that did not open cannot be kept: it must be pasted again.
    response = alice_client.post(NEW, form_data(registered, private_key="-----BEGIN PRIVATE KEY-----\nAAAA"))
    page = response.content.decode()
    assert "Kept for this form" not in page
    assert "paste it (or choose its file) again" in page


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("private_key", "Paste the private key, or upload its file."),
        ("certificate", "Paste the certificate uploaded to NetSuite, or upload its file."),
    ],
)
@pytest.mark.parametrize("blank", ["", "  \n  "])
def test_it_needs_the_key_and_the_certificate(alice_client, form_data, register, field, message, blank):
    response = alice_client.post(NEW, form_data(register("p256"), **{field: blank}))
    assert_refused(response, field, message)


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        (", ".join(f"person{n}@example.com" for n in range(21)), "at most 20 are mailed"),
        ("a@example.com " * 100_000, "list at most 20 addresses"),
    ],
    ids=["21 addresses", "1.4 MB"],
)
def test_alert_recipients_are_capped_before_they_are_checked(
    alice_client, register, form_data, recipients, message
):
    """GIVEN more alert recipients than nsconnect mails WHEN the form is saved THEN the field says
    so, quickly, and nothing is saved (one post must not make nsconnect mail thousands)."""
    started = time.perf_counter()
    response = alice_client.post(
        "/authentications/new/", form_data(register("p256"), alert_recipients=recipients)
    )
    elapsed = time.perf_counter() - started

    assert response.status_code == 422
    assert message in response.context["form"].errors["alert_recipients"][0]
    assert elapsed < 2.0
    assert not HttpAuthentication.objects.exists()
