"""Key pairs generated in nsconnect: made, downloaded, registered in NetSuite and used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from authentications.forms.authentication import AuthenticationForm
from authentications.keys import private_keys
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services import authentication_records
from tests.conftest import Registered, new_certificate_id, new_consumer_key, put_in_role
from tests.fake_netsuite import FakeNetSuite

pytestmark = pytest.mark.django_db

NEW_KEY = "/authentications/keys/new/"
HTMX = {"HTTP_HX_REQUEST": "true"}
# kind, what the pages call it, the JWT algorithm that fits it, one that does not.
KINDS = [
    ("rsa3072", "RSA 3072", "PS256", "ES256"),
    ("rsa4096", "RSA 4096", "PS256", "ES512"),
    ("p256", "EC P-256", "ES256", "PS256"),
    ("p384", "EC P-384", "ES384", "ES256"),
    ("p521", "EC P-521", "ES512", "PS256"),
]


@dataclass
class Pages:
    """A signed-in test client that remembers every response, to check none shows a private key."""

    client: Any
    responses: list[Any] = field(default_factory=list)

    def get(self, url: str, **extra: Any) -> Any:
        return self._seen(self.client.get(url, **extra))

    def post(self, url: str, data: dict[str, str], **extra: Any) -> Any:
        return self._seen(self.client.post(url, data, **extra))

    def _seen(self, response: Any) -> Any:
        self.responses.append(response)
        return response

    def assert_no_private_key_shown(self) -> None:
        body_lines = [
            line
            for signing_key in SigningKey.objects.all()
            for line in signing_key.private_key.splitlines()
            if line and not line.startswith("-----")
        ]
        assert body_lines, "no private key to look for"
        for response in self.responses:
            content = response.content.decode()
            assert not [line for line in body_lines if line in content], response.request["PATH_INFO"]


@pytest.fixture
def pages(alice_client: Any) -> Iterator[Pages]:
    pages = Pages(alice_client)
    yield pages
    if SigningKey.objects.exists():
        pages.assert_no_private_key_shown()


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    """Bob also integrates systems; his generated key pairs are his until an authentication uses them."""
    user = django_user_model.objects.create_user(username="bob", email="bob@example.com", password="x")
    return put_in_role(user, "Integrators")


def generate(pages: Pages, kind: str = "p256", days: str = "730", common_name: str = "Acme ERP") -> Any:
    response = pages.post(NEW_KEY, {"kind": kind, "days": days, "common_name": common_name})
    assert response.status_code == 302, response.content.decode()
    signing_key = SigningKey.objects.order_by("-pk").first()
    assert response["Location"] == f"/authentications/keys/{signing_key.pk}/"
    return signing_key


def download(pages: Pages, signing_key: SigningKey, extension: str) -> Any:
    return pages.get(f"/authentications/keys/{signing_key.pk}/certificate.{extension}")


def register_in_netsuite(
    fake_netsuite: FakeNetSuite, certificate_pem: str, consumer_key: str | None = None
) -> Registered:
    """What an administrator does in NetSuite's M2M setup with the downloaded certificate."""
    registered = Registered(
        kind="p256",  # unused: no key is pasted
        private_key_pem="",
        certificate_pem=certificate_pem,
        certificate_id=new_certificate_id(),
        consumer_key=consumer_key or new_consumer_key(),
    )
    fake_netsuite.register(
        consumer_key=registered.consumer_key,
        certificate_id=registered.certificate_id,
        certificate_pem=certificate_pem,
    )
    return registered


def with_generated_key(form_data: Any, registered: Registered, signing_key: SigningKey, **overrides: str):
    """The authentication form filled in with a generated key pair: no private key, no certificate."""
    return form_data(
        registered,
        private_key="",
        certificate="",
        signing_key=str(signing_key.pk),
        **overrides,
    )


@pytest.mark.parametrize(("kind", "description", "algorithm", "wrong_algorithm"), KINDS)
def test_a_generated_key_pair_retrieves_a_token_and_becomes_the_active_key(
    pages, fake_netsuite, form_data, kind, description, algorithm, wrong_algorithm
):
    """GIVEN alice generates a key pair and downloads its certificate
    WHEN NetSuite knows the certificate and she creates an authentication with the key pair
    THEN Retrieve gets a token signed with it, and Save makes it the active key."""
    signing_key = generate(pages, kind)
    page = pages.get(f"/authentications/keys/{signing_key.pk}/").content.decode()
    assert f"Key pair: {description}" in page
    assert signing_key.fingerprint_sha256 in page
    assert "CN=Acme ERP" in page
    assert "Download acme-erp.pem" in page and "Download acme-erp.crt" in page
    assert "OAuth 2.0 Client Credentials (M2M) Setup" in page
    assert f'href="/authentications/new/?signing_key={signing_key.pk}"' in page

    pem, crt = download(pages, signing_key, "pem"), download(pages, signing_key, "crt")
    assert pem["Content-Type"] == "application/x-pem-file"
    assert pem["Content-Disposition"] == 'attachment; filename="acme-erp.pem"'
    assert crt["Content-Type"] == "application/x-x509-ca-cert"
    assert crt["Content-Disposition"] == 'attachment; filename="acme-erp.crt"'
    assert pem.content == crt.content
    certificate = x509.load_pem_x509_certificate(pem.content)
    stored_key = private_keys.load_private_key(signing_key.private_key)  # the foundation's full check
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert certificate.public_key().public_bytes(*spki) == stored_key.public_key().public_bytes(*spki)

    registered = register_in_netsuite(fake_netsuite, pem.content.decode())
    new_page = pages.get(f"/authentications/new/?signing_key={signing_key.pk}").content.decode()
    assert f'name="signing_key" id="id_signing_key" value="{signing_key.pk}"' in new_page
    assert f'<option value="{algorithm}" selected>' in new_page
    assert "Download acme-erp.pem" in new_page

    # The posted algorithm does not fit the key: the form takes the one that does.
    data = with_generated_key(form_data, registered, signing_key, jwt_algorithm=wrong_algorithm)
    retrieved = pages.post("/authentications/new/", {**data, "retrieve_token": "1"}, **HTMX)
    assert "Access token retrieved" in retrieved.content.decode(), retrieved.content.decode()
    header = fake_netsuite.requests[-1].jose_header
    assert (header["kid"], header["alg"]) == (registered.certificate_id, algorithm)

    saved = pages.post("/authentications/new/", data)
    assert saved.status_code == 302 and saved["Location"] == "/authentications/acme-erp/"
    signing_key.refresh_from_db()
    authentication = HttpAuthentication.objects.get()
    assert signing_key.authentication == authentication
    assert (signing_key.state, signing_key.certificate_id) == ("active", registered.certificate_id)
    assert authentication.jwt_algorithm == algorithm
    assert SigningKey.objects.count() == 1
    detail = pages.get(saved["Location"]).content.decode()
    assert registered.certificate_id in detail and description in detail


def test_the_authentication_form_generates_a_key_pair_in_place(pages):
    """GIVEN alice fills in a new authentication named Acme ERP
    WHEN she presses "Generate a new key pair" with the common name left empty (htmx)
    THEN the form gets the key pair (hidden), its facts, downloads and NetSuite steps, and the
    JWT algorithm that fits it; the certificate is named after the authentication."""
    form_page = pages.get("/authentications/new/").content.decode()
    assert "Generate a new key pair" in form_page
    assert 'hx-params="kind,days,common_name,name"' in form_page
    assert form_page.index('id="key-pair-panel"') < form_page.index('id="div_id_private_key"')

    data = {"kind": "p384", "days": "365", "common_name": "", "name": "Acme ERP"}
    panel = pages.post(NEW_KEY, data, **HTMX).content.decode()
    signing_key = SigningKey.objects.get()
    assert f'name="signing_key" id="id_signing_key" value="{signing_key.pk}"' in panel
    assert "EC P-384" in panel and "CN=Acme ERP" in panel
    assert "Download acme-erp.pem" in panel and "Download acme-erp.crt" in panel
    assert "Setup &gt; Integration &gt; Manage Authentication" in panel
    assert (
        '<select name="jwt_algorithm" class="select form-select" id="id_jwt_algorithm" hx-swap-oob="true">'
        in panel
    )
    assert '<option value="ES384" selected>' in panel
    assert signing_key.authentication is None and signing_key.state == "pending"

    # "Use another key pair" brings the empty panel back.
    again = pages.get(NEW_KEY, **HTMX).content.decode()
    assert 'id="key-pair-panel"' in again and "signing_key" not in again


def test_retrieve_without_javascript_keeps_the_generated_key_on_the_page(pages, fake_netsuite, form_data):
    signing_key = generate(pages, "p256")
    registered = register_in_netsuite(fake_netsuite, download(pages, signing_key, "pem").content.decode())
    data = with_generated_key(form_data, registered, signing_key)
    page = pages.post("/authentications/new/", {**data, "retrieve_token": "1"}).content.decode()
    assert "Access token retrieved" in page
    assert f'name="signing_key" id="id_signing_key" value="{signing_key.pk}"' in page
    assert "paste it (or choose its file) again" not in page
    assert HttpAuthentication.objects.count() == 0


def test_the_certificate_is_self_signed_for_the_days_asked(pages):
    before = timezone.now()
    signing_key = generate(pages, "p256", days="90", common_name="Billing sync")
    certificate = x509.load_pem_x509_certificate(download(pages, signing_key, "pem").content)
    assert certificate.subject == certificate.issuer
    assert certificate.subject.rfc4514_string() == "CN=Billing sync"
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA256)
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == dt.timedelta(days=90)
    # Backdated a little, for clocks running behind.
    assert before - dt.timedelta(minutes=10) < certificate.not_valid_before_utc < before
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert signing_key.effective_expires_at == signing_key.not_after
    page = pages.get(f"/authentications/keys/{signing_key.pk}/").content.decode()
    assert "Download billing-sync.pem" in page
    assert "Not used by any HTTP authentication yet." in page


def test_the_private_key_is_stored_encrypted_and_generating_is_audited(pages):
    signing_key = generate(pages, "rsa3072")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT private_key FROM {SigningKey._meta.db_table}")  # noqa: S608
        (stored,) = cursor.fetchone()
    assert stored.startswith("gAAAAA") and "PRIVATE KEY" not in stored
    assert signing_key.private_key.splitlines()[1] not in stored
    event = AuditEvent.objects.get(action=AuditEvent.Action.KEY_GENERATED)
    assert event.actor.username == "alice" and event.authentication is None
    assert event.details["key"] == "RSA 3072"
    assert event.details["fingerprint_sha256"] == signing_key.fingerprint_sha256
    assert event.details["not_after"] == signing_key.not_after.isoformat()
    assert "PRIVATE" not in str(event.details) and signing_key.private_key.splitlines()[1] not in str(
        event.details
    )


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ("0", "A certificate is valid for at least 1 day."),
        ("731", "NetSuite accepts at most 730 days (two years)."),
        ("many", "Enter a whole number of days, 1 to 730."),
    ],
)
def test_a_validity_out_of_range_is_refused_at_the_field(pages, days, message):
    page = pages.post(NEW_KEY, {"kind": "p256", "days": days, "common_name": "x"})
    assert page.status_code == 422
    content = page.content.decode()
    assert 'id="error_1_id_days"' in content and message in content
    # On the authentication form the panel says the same (htmx swaps only 200 answers).
    panel = pages.post(NEW_KEY, {"kind": "p256", "days": days, "name": "Acme ERP"}, **HTMX)
    assert panel.status_code == 200 and message in panel.content.decode()
    assert not SigningKey.objects.exists()


def test_an_unknown_key_type_is_refused(pages):
    page = pages.post(NEW_KEY, {"kind": "dsa1024", "days": "730", "common_name": "x"})
    assert page.status_code == 422
    content = page.content.decode()
    assert 'id="error_1_id_kind"' in content
    assert "Choose RSA 3072, RSA 4096, EC P-256, EC P-384 or EC P-521." in content
    assert not SigningKey.objects.exists()


def test_the_key_pair_page_starts_with_the_defaults_or_the_name_given(pages):
    page = pages.get(NEW_KEY).content.decode()
    assert '<option value="p256" selected>EC P-256</option>' in page
    assert 'name="days" value="730"' in page
    assert 'name="common_name" value="nsconnect"' in page
    named = pages.get(NEW_KEY + "?name=Acme+ERP").content.decode()
    assert 'name="common_name" value="Acme ERP"' in named


def test_someone_elses_unattached_key_is_not_found_and_cannot_be_used(pages, bob, fake_netsuite, form_data):
    """GIVEN bob generated a key pair that no authentication uses yet
    WHEN alice asks for its page or certificate, or posts its id in the authentication form
    THEN she gets 404, a form error, and nothing is saved."""
    bobs_client = Client()
    bobs_client.force_login(bob)
    bobs_key = generate(Pages(bobs_client), "p256")
    alice = pages
    assert alice.get(f"/authentications/keys/{bobs_key.pk}/").status_code == 404
    assert download(alice, bobs_key, "pem").status_code == 404
    assert download(alice, bobs_key, "crt").status_code == 404

    registered = register_in_netsuite(fake_netsuite, bobs_key.certificate_pem)
    page = alice.post("/authentications/new/", with_generated_key(form_data, registered, bobs_key))
    assert page.status_code == 422
    assert "This generated key pair was not found. Generate a new one." in page.content.decode()
    assert not HttpAuthentication.objects.exists()
    bobs_key.refresh_from_db()
    assert bobs_key.authentication is None and bobs_key.state == "pending"
    preselected = alice.get(f"/authentications/new/?signing_key={bobs_key.pk}").content.decode()
    assert 'name="signing_key"' not in preselected
    assert "This generated key pair was not found." in preselected


def test_staff_may_see_an_unattached_key(pages, django_user_model):
    signing_key = generate(pages, "p256")
    staff = django_user_model.objects.create_user(username="charlie", password="x", is_staff=True)
    staff_client = Client()
    staff_client.force_login(staff)
    assert staff_client.get(f"/authentications/keys/{signing_key.pk}/").status_code == 200
    assert staff_client.get(f"/authentications/keys/{signing_key.pk}/certificate.pem").status_code == 200


def test_a_key_pair_used_by_one_authentication_cannot_be_used_by_another(pages, fake_netsuite, form_data):
    signing_key = generate(pages, "p256")
    registered = register_in_netsuite(fake_netsuite, signing_key.certificate_pem)
    assert (
        pages.post(
            "/authentications/new/", with_generated_key(form_data, registered, signing_key)
        ).status_code
        == 302
    )

    second = with_generated_key(form_data, registered, signing_key, name="Acme CRM")
    page = pages.post("/authentications/new/", second)
    assert page.status_code == 422
    assert "This key pair is already used by Acme ERP." in page.content.decode()
    assert list(HttpAuthentication.objects.values_list("name", flat=True)) == ["Acme ERP"]
    # Once attached, the key page says whose it is and offers no second use.
    key_page = pages.get(f"/authentications/keys/{signing_key.pk}/").content.decode()
    assert "Used by" in key_page and "Create an HTTP authentication with this key" not in key_page
    # The certificate is named after the authentication now.
    assert download(pages, signing_key, "pem")["Content-Disposition"] == 'attachment; filename="acme-erp.pem"'


def test_a_key_pair_taken_meanwhile_is_not_attached_twice(pages, fake_netsuite, form_data, alice):
    """Two forms validated with the same key pair: the second save finds it taken and saves nothing."""
    signing_key = generate(pages, "p256")
    registered = register_in_netsuite(fake_netsuite, signing_key.certificate_pem)
    forms = [
        AuthenticationForm(data=with_generated_key(form_data, registered, signing_key, name=name), user=alice)
        for name in ("Acme ERP", "Acme CRM")
    ]
    assert all(form.is_valid() for form in forms)
    first, second = (form.key_material for form in forms)
    assert first is not None and second is not None
    authentication_records.authentication_create(
        actor=alice, values=forms[0].authentication_values(), key_material=first
    )
    with pytest.raises(ValidationError, match="just taken by another authentication"):
        authentication_records.authentication_create(
            actor=alice, values=forms[1].authentication_values(), key_material=second
        )
    assert list(HttpAuthentication.objects.values_list("name", flat=True)) == ["Acme ERP"]


def test_editing_with_a_generated_key_rotates_to_it(
    pages, alice, register, create_authentication, fake_netsuite, form_data
):
    """GIVEN an authentication with a pasted P-256 key, and alice may rotate keys
    WHEN alice generates an RSA 3072 key pair on its edit page and saves with NetSuite's new Certificate ID
    THEN the generated key is pending until she verifies and activates it in the rotation wizard; then
    it is the active key version, the old one is retired, and a token comes with it."""
    alice.user_permissions.add(Permission.objects.get(codename="rotate_key"))
    old = register("p256")
    authentication = create_authentication(old)
    old_key = authentication.active_key()
    edit_url = f"/authentications/{authentication.identifier}/edit/"
    edit_page = pages.get(edit_url).content.decode()
    assert "Generate a new key pair" in edit_page
    assert "/authentications/keys/new/?name=Acme%20ERP&amp;for=acme-erp" in edit_page

    panel = pages.post(NEW_KEY, {"kind": "rsa3072", "days": "730", "name": "Acme ERP"}, **HTMX)
    assert '<option value="PS256" selected>' in panel.content.decode()
    signing_key = SigningKey.objects.get(authentication__isnull=True)
    new = register_in_netsuite(fake_netsuite, signing_key.certificate_pem, consumer_key=old.consumer_key)
    data = with_generated_key(form_data, new, signing_key)
    # The old Certificate ID, still in the field, is not the new certificate's.
    kept_old_id = pages.post(edit_url, {**data, "certificate_id": old.certificate_id})
    assert kept_old_id.status_code == 422
    assert "This is the current key&#x27;s Certificate ID." in kept_old_id.content.decode()
    assert authentication.active_key() == old_key
    retrieved = pages.post(
        f"/authentications/{authentication.identifier}/edit/", {**data, "retrieve_token": "1"}, **HTMX
    )
    assert "Access token retrieved" in retrieved.content.decode(), retrieved.content.decode()

    saved = pages.post(edit_url, data)
    assert saved.status_code == 302
    assert saved["Location"] == f"/authentications/{authentication.identifier}/rotate/"
    signing_key.refresh_from_db()
    assert (signing_key.authentication_id, signing_key.state) == (authentication.pk, "pending")
    assert authentication.active_key() == old_key
    authentication.refresh_from_db()
    assert authentication.jwt_algorithm == "ES256"  # still the active key's until activation

    rotate = f"/authentications/{authentication.identifier}/rotate/"
    pages.post(rotate + "verify/", {"signing_key": str(signing_key.pk)})
    activated = pages.post(
        rotate + "activate/",
        {
            "signing_key": str(signing_key.pk),
            "certificate_id": new.certificate_id,
            "fingerprint_sha256": signing_key.fingerprint_sha256,
            "confirmed": "yes",
        },
    )
    assert activated.status_code == 302
    old_key.refresh_from_db()
    signing_key.refresh_from_db()
    assert old_key.state == "retired" and old_key.retired_at is not None
    assert signing_key.state == "active"
    assert authentication.active_key() == signing_key
    authentication.refresh_from_db()
    assert authentication.jwt_algorithm == "PS256"
    assert AuditEvent.objects.get(action=AuditEvent.Action.KEY_ACTIVATED).details["certificate_id"] == (
        new.certificate_id
    )

    pages.post(f"/authentications/{authentication.identifier}/retrieve-token/", {})
    header = fake_netsuite.requests[-1].jose_header
    assert (header["kid"], header["alg"]) == (new.certificate_id, "PS256")


def test_without_javascript_a_key_pair_made_for_an_authentication_leads_back_to_it(
    pages, register, create_authentication
):
    authentication = create_authentication(register("p256"))
    page = pages.get(NEW_KEY + "?name=Acme+ERP&for=acme-erp").content.decode()
    assert 'name="for" value="acme-erp"' in page
    response = pages.post(
        NEW_KEY, {"kind": "p256", "days": "730", "common_name": "Acme ERP", "for": "acme-erp"}
    )
    signing_key = SigningKey.objects.get(authentication__isnull=True)
    assert response["Location"] == f"/authentications/keys/{signing_key.pk}/?for=acme-erp"
    key_page = pages.get(response["Location"]).content.decode()
    assert f'href="/authentications/acme-erp/edit/?signing_key={signing_key.pk}"' in key_page
    edit = pages.get(f"/authentications/{authentication.identifier}/edit/?signing_key={signing_key.pk}")
    assert f'value="{signing_key.pk}"' in edit.content.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", NEW_KEY),
        ("post", NEW_KEY),
        ("get", "/authentications/keys/1/"),
        ("get", "/authentications/keys/1/certificate.pem"),
        ("get", "/authentications/keys/1/certificate.crt"),
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not SigningKey.objects.exists()
