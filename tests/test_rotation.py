"""The key rotation wizard: new key, Certificate ID, verify, activate, abandon; never an outage."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import token_request
from authentications.services import token_single_flight
from tests.conftest import new_certificate_id
from tests.fake_netsuite import FakeNetSuite

pytestmark = pytest.mark.django_db


@pytest.fixture
def kim(django_user_model: Any) -> Any:
    """Kim administers keys: she may rotate them."""
    user = django_user_model.objects.create_user(username="kim", password="x")
    user.user_permissions.add(Permission.objects.get(codename="rotate_key"))
    return user


@pytest.fixture
def kim_client(client: Any, kim: Any) -> Any:
    client.force_login(kim)
    return client


def url(authentication: HttpAuthentication, step: str = "") -> str:
    return f"/authentications/{authentication.identifier}/rotate/{step + '/' if step else ''}"


def consumer_token(authentication: HttpAuthentication, fake_netsuite: FakeNetSuite) -> str:
    """What a consuming service gets, forcing a mint; returns the kid of the assertion NetSuite saw."""
    AccessToken.objects.filter(authentication=authentication).update(
        expires_at=timezone.now() + dt.timedelta(seconds=30)
    )
    before = len(fake_netsuite.requests)
    authentication.refresh_from_db()
    token = token_single_flight.token_for_consumer(authentication, actor="api")
    assert not token.is_expired() and token.value
    assert len(fake_netsuite.requests) == before + 1, "expected a mint"
    header = fake_netsuite.requests[-1].jose_header
    assert header is not None
    return str(header["kid"])


def generate_pending(kim_client: Any, authentication: HttpAuthentication) -> SigningKey:
    response = kim_client.post(
        url(authentication, "generate"), {"kind": "p384", "days": "365", "common_name": ""}
    )
    assert response.status_code == 302, response.content.decode()
    return SigningKey.objects.get(authentication=authentication, state="pending")


def register_certificate(fake_netsuite: FakeNetSuite, authentication: HttpAuthentication, pem: str) -> str:
    """What the administrator does in NetSuite's M2M setup with the downloaded certificate."""
    certificate_id = new_certificate_id()
    fake_netsuite.register(
        consumer_key=authentication.consumer_key, certificate_id=certificate_id, certificate_pem=pem
    )
    return certificate_id


def activate(kim_client: Any, authentication: HttpAuthentication, signing_key: SigningKey) -> Any:
    signing_key.refresh_from_db()
    return kim_client.post(
        url(authentication, "activate"),
        {
            "signing_key": signing_key.pk,
            "certificate_id": signing_key.certificate_id,
            "fingerprint_sha256": signing_key.fingerprint_sha256,
            "confirmed": "yes",
        },
    )


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def test_a_full_rotation_never_interrupts_consumers(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN an authentication whose consumers fetch tokens all the time
    WHEN kim generates a key, downloads its certificate, enters NetSuite's Certificate ID,
    verifies, activates and then rolls back
    THEN every token request in between succeeds, signed with the old key until activation,
    with the new key after it, and with the old key again after the rollback."""
    old = register("p256")
    authentication = create_authentication(old)
    old_key = authentication.active_key()
    assert consumer_token(authentication, fake_netsuite) == old.certificate_id

    assert "Generate a new key pair" in kim_client.get(url(authentication)).content.decode()
    pending = generate_pending(kim_client, authentication)
    assert consumer_token(authentication, fake_netsuite) == old.certificate_id

    download = kim_client.get(f"/authentications/keys/{pending.pk}/certificate.pem")
    assert download.content.decode() == pending.certificate_pem
    certificate_id = register_certificate(fake_netsuite, authentication, download.content.decode())
    response = kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": certificate_id}
    )
    assert response.status_code == 302
    assert consumer_token(authentication, fake_netsuite) == old.certificate_id

    token_before = AccessToken.objects.get(authentication=authentication)
    response = kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk}, follow=True)
    assert "NetSuite gave a token with the new key" in response.content.decode()
    assert fake_netsuite.requests[-1].jose_header["kid"] == certificate_id
    # Verify stores nothing: the consumers' token and the active key stay.
    token_after = AccessToken.objects.get(authentication=authentication)
    assert (token_after.value, token_after.signing_key_id) == (token_before.value, old_key.pk)
    assert authentication.active_key() == old_key
    assert consumer_token(authentication, fake_netsuite) == old.certificate_id

    response = activate(kim_client, authentication, pending)
    assert response.status_code == 302
    token = AccessToken.objects.get(authentication=authentication)
    assert token.signing_key_id == pending.pk
    assert fake_netsuite.requests[-1].jose_header["kid"] == certificate_id
    old_key.refresh_from_db()
    pending.refresh_from_db()
    assert (old_key.state, pending.state) == ("retired", "active")
    assert old_key.retired_by.username == pending.activated_by.username == "kim"
    authentication.refresh_from_db()
    assert authentication.jwt_algorithm == "ES384"  # fits the new P-384 key
    assert consumer_token(authentication, fake_netsuite) == certificate_id

    response = kim_client.post(url(authentication, "rollback"), {"confirmed": "yes"}, follow=True)
    assert "Rolled back" in response.content.decode()
    assert authentication.active_key() == old_key
    assert fake_netsuite.requests[-1].jose_header["kid"] == old.certificate_id
    assert consumer_token(authentication, fake_netsuite) == old.certificate_id
    assert [a for a in actions() if a.startswith("key.")] == [
        "key.generated",
        "key.added",
        "key.certificate_id_set",
        "key.verified",
        "key.activated",
        "key.rolled_back",
    ]


def test_activate_is_refused_without_a_successful_verify(kim_client, register, create_authentication):
    """GIVEN a pending key with a Certificate ID that was never verified
    WHEN kim posts Activate
    THEN it is refused with a message, and nothing changed."""
    authentication = create_authentication(register("p256"))
    old_key = authentication.active_key()
    pending = generate_pending(kim_client, authentication)
    kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": "abc"}
    )
    before = actions()
    response = kim_client.post(
        url(authentication, "activate"),
        {
            "signing_key": pending.pk,
            "certificate_id": "abc",
            "fingerprint_sha256": pending.fingerprint_sha256,
            "confirmed": "yes",
        },
        follow=True,
    )
    assert "Verify the new key first" in response.content.decode()
    assert authentication.active_key() == old_key
    pending.refresh_from_db()
    assert pending.state == "pending"
    assert actions() == before


def test_activate_is_refused_when_the_certificate_id_changed_after_verify(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a verified pending key
    WHEN its Certificate ID is changed and Activate is posted
    THEN activation is refused: the change needs a new verify."""
    authentication = create_authentication(register("p256"))
    pending = generate_pending(kim_client, authentication)
    certificate_id = register_certificate(fake_netsuite, authentication, pending.certificate_pem)
    kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": certificate_id}
    )
    kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk})
    pending.refresh_from_db()
    assert pending.verified_at is not None
    stale = {
        "signing_key": pending.pk,
        "certificate_id": certificate_id,
        "fingerprint_sha256": pending.fingerprint_sha256,
    }
    kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": "other"}
    )
    response = kim_client.post(url(authentication, "activate"), {**stale, "confirmed": "yes"}, follow=True)
    assert "Verify the new key first" in response.content.decode()
    pending.refresh_from_db()
    assert (pending.state, pending.verified_at) == ("pending", None)


def test_verify_with_a_wrong_certificate_id_leaves_everything_as_it_was(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN an authentication with a current token and a pending key
    WHEN kim verifies with a Certificate ID NetSuite does not know
    THEN the active key, the token and the pending key stay as they were, and the failure is audited."""
    registered = register("p256")
    authentication = create_authentication(registered)
    token_single_flight.token_get(authentication=authentication, actor="test")
    token = AccessToken.objects.get(authentication=authentication)
    pending = generate_pending(kim_client, authentication)
    unknown = new_certificate_id()
    kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": unknown}
    )

    response = kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk}, follow=True)
    assert "NetSuite did not give a token with this key" in response.content.decode()
    assert fake_netsuite.requests[-1].jose_header["kid"] == unknown
    pending.refresh_from_db()
    assert (pending.state, pending.verified_at) == ("pending", None)
    assert authentication.active_key().certificate_id == registered.certificate_id
    after = AccessToken.objects.get(authentication=authentication)
    assert (after.value, after.obtained_at, after.signing_key_id) == (
        token.value,
        token.obtained_at,
        token.signing_key_id,
    )
    event = AuditEvent.objects.filter(action="key.verify_failed").get()
    assert event.details["certificate_id"] == unknown and event.details["message"]
    assert event.actor_label == "kim"
    authentication.refresh_from_db()
    assert authentication.consecutive_failures == 0  # the active key's status is not touched


def test_abandon_deletes_the_pending_key_and_resume_shows_it(kim_client, register, create_authentication):
    """GIVEN a rotation left after the key was generated
    WHEN kim comes back to the wizard
    THEN it shows the pending key and the next step; Abandon deletes the key and starts over."""
    authentication = create_authentication(register("p256"))
    old_key = authentication.active_key()
    pending = generate_pending(kim_client, authentication)
    page = kim_client.get(url(authentication)).content.decode()
    assert pending.fingerprint_sha256 in page
    assert "Step 2: the Certificate ID" in page
    assert f"/authentications/keys/{pending.pk}/certificate.pem" in page
    # A second key while one is pending is refused.
    again = kim_client.post(url(authentication, "generate"), {"kind": "p256", "days": "30"}, follow=True)
    assert "already in progress" in again.content.decode()
    assert SigningKey.objects.filter(authentication=authentication, state="pending").count() == 1

    response = kim_client.post(
        url(authentication, "abandon"), {"signing_key": pending.pk, "confirmed": "yes"}, follow=True
    )
    assert "The pending key was deleted" in response.content.decode()
    assert not SigningKey.objects.filter(pk=pending.pk).exists()
    assert authentication.active_key() == old_key
    assert "Generate a new key pair" in response.content.decode()
    event = AuditEvent.objects.filter(action="key.abandoned").get()
    assert event.details["fingerprint_sha256"] == pending.fingerprint_sha256


def test_each_rotation_action_leaves_its_audit_event_without_secrets(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a rotation from start to activation
    WHEN each step runs
    THEN each leaves exactly its AuditEvent, by kim, and no detail holds a private key or a token."""
    authentication = create_authentication(register("p256"))
    AuditEvent.objects.all().delete()
    pending = generate_pending(kim_client, authentication)
    assert actions() == ["key.generated", "key.added"]
    certificate_id = register_certificate(fake_netsuite, authentication, pending.certificate_pem)
    kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": certificate_id}
    )
    assert actions() == ["key.generated", "key.added", "key.certificate_id_set"]
    kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk})
    assert actions()[-1] == "key.verified" and len(actions()) == 4
    activate(kim_client, authentication, pending)
    assert actions()[3:] == ["key.verified", "key.activated", "token.retrieved"]
    secrets = [line for line in pending.private_key.splitlines() if line and not line.startswith("-----")]
    secrets.append(AccessToken.objects.get(authentication=authentication).value)
    for event in AuditEvent.objects.all():
        assert event.actor_label == "kim"
        text = str(event.details)
        assert "PRIVATE KEY" not in text
        assert not [secret for secret in secrets if secret in text], event.action
    activated = AuditEvent.objects.get(action="key.activated").details
    assert activated["certificate_id"] == certificate_id
    assert (
        activated["previous_certificate_id"]
        == authentication.signing_keys.get(state="retired").certificate_id
    )


def test_entering_a_certificate_id_is_audited_with_the_old_and_the_new_id(
    kim_client, register, create_authentication
):
    """GIVEN a pending key generated by kim
    WHEN she enters its Certificate ID, corrects it, then saves the same one again
    THEN each change leaves a key.certificate_id_set event by kim from her address, naming the
    key, the old and the new ID and no secret; saving the same ID again changes nothing."""
    authentication = create_authentication(register("p256"))
    pending = generate_pending(kim_client, authentication)
    first, second = new_certificate_id(), new_certificate_id()
    for certificate_id in (first, second, second):
        response = kim_client.post(
            url(authentication, "certificate-id"),
            {"signing_key": pending.pk, "certificate_id": certificate_id},
            REMOTE_ADDR="192.0.2.9",
        )
        assert response.status_code == 302

    events = list(AuditEvent.objects.filter(action="key.certificate_id_set").order_by("pk"))
    assert [(e.details["old_certificate_id"], e.details["certificate_id"]) for e in events] == [
        ("", first),
        (first, second),
    ]
    for event in events:
        assert (event.actor_label, event.ip_address, event.authentication) == (
            "kim",
            "192.0.2.9",
            authentication,
        )
        assert event.details["signing_key_id"] == pending.pk
        assert event.details["fingerprint_sha256"] == pending.fingerprint_sha256
        private_lines = [line for line in pending.private_key.splitlines() if line and "-----" not in line]
        assert "PRIVATE KEY" not in str(event.details)
        assert not [line for line in private_lines if line in str(event.details)]


ROTATION_URLS = ["", "generate", "certificate-id", "verify", "activate", "abandon", "rollback"]


@pytest.mark.parametrize("step", ROTATION_URLS)
def test_without_the_rotate_permission_every_rotation_url_is_forbidden(
    client, django_user_model, register, create_authentication, step
):
    """GIVEN a user who may change authentications and retrieve tokens, but not rotate keys
    WHEN they open or post any rotation URL
    THEN they get 403 and nothing changes."""
    authentication = create_authentication(register("p256"))
    pending = SigningKey.objects.create(
        **{
            field: getattr(authentication.active_key(), field)
            for field in ("certificate_pem", "key_type", "key_size", "curve", "fingerprint_sha256")
        },
        authentication=authentication,
        certificate_id="pending-id",
        private_key=authentication.active_key().private_key,
        not_before=timezone.now(),
        not_after=timezone.now() + dt.timedelta(days=30),
        effective_expires_at=timezone.now() + dt.timedelta(days=30),
        verified_at=timezone.now(),
    )
    user = django_user_model.objects.create_user(username="ida", password="x")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["retrieve_token", "change_httpauthentication"])
    )
    client.force_login(user)
    keys_before = list(SigningKey.objects.order_by("pk").values_list("pk", "state", "certificate_id"))
    events_before = AuditEvent.objects.count()
    data = {
        "signing_key": pending.pk,
        "certificate_id": "other",
        "fingerprint_sha256": pending.fingerprint_sha256,
        "kind": "p256",
        "days": "30",
    }
    response = client.get(url(authentication)) if not step else client.post(url(authentication, step), data)
    assert response.status_code == 403
    assert list(SigningKey.objects.order_by("pk").values_list("pk", "state", "certificate_id")) == keys_before
    assert AuditEvent.objects.count() == events_before


def pending_with_certificate_id(
    kim_client: Any, authentication: HttpAuthentication, fake_netsuite: FakeNetSuite
) -> SigningKey:
    """Steps 1 and 2 of the wizard: a generated key whose certificate NetSuite knows."""
    pending = generate_pending(kim_client, authentication)
    certificate_id = register_certificate(fake_netsuite, authentication, pending.certificate_pem)
    kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": certificate_id}
    )
    return pending


def test_verify_explains_an_answer_nested_past_the_recursion_limit(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a pending key with its Certificate ID
    WHEN kim verifies and the token URL answers "[" * 60000
    THEN the wizard's page says NetSuite gave no token and why (no 500), the key stays unverified."""
    authentication = create_authentication(register("p256"))
    pending = pending_with_certificate_id(kim_client, authentication, fake_netsuite)
    fake_netsuite.answer_token_next(200, b"[" * 60_000)

    response = kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk}, follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert "NetSuite did not give a token with this key" in page
    assert "not a NetSuite token answer in JSON" in page
    pending.refresh_from_db()
    assert pending.verified_at is None


def test_verify_turns_any_unexpected_error_into_a_refusal_on_the_page(
    kim_client, register, create_authentication, fake_netsuite, monkeypatch
):
    """GIVEN a pending key with its Certificate ID
    WHEN kim verifies and something nsconnect did not foresee goes wrong on the way
    THEN the wizard's page says so (not an HTML 500), and the failure is audited."""

    authentication = create_authentication(register("p256"))
    pending = pending_with_certificate_id(kim_client, authentication, fake_netsuite)

    def unforeseen(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(token_request, "request_token", unforeseen)

    response = kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk}, follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert "NetSuite did not give a token with this key" in page
    assert "unexpected error (OverflowError)" in page
    event = AuditEvent.objects.filter(action="key.verify_failed").get()
    assert event.details["kind"] == "internal"
    pending.refresh_from_db()
    assert pending.verified_at is None


@pytest.mark.parametrize("posted", ["9" * 5000, "-1", "٣", " 1", "abc", ""])
def test_a_wizard_button_naming_no_key_is_refused_without_a_500(
    kim_client, register, create_authentication, posted
):
    """GIVEN an authentication in the rotation wizard WHEN a button is posted with a signing_key
    that is no key id (thousands of digits, negative, non-ASCII digits, blank) THEN the wizard
    says the pending key is gone, the certificate endpoint answers 404, and nothing changes."""
    authentication = create_authentication(register("p256"))
    before = AuditEvent.objects.count()
    base = f"/authentications/{authentication.identifier}/rotate"

    verify = kim_client.post(f"{base}/verify/", {"signing_key": posted}, follow=True)
    upload = kim_client.post(f"{base}/netsuite-upload/", {"signing_key": posted})

    assert verify.status_code == 200
    assert "This pending key is gone" in verify.content.decode()
    assert upload.status_code == 404
    assert AuditEvent.objects.count() == before


# Activate and Abandon ask first: a page that says what happens and what cannot be undone.


def wizard_state(authentication: HttpAuthentication, fake_netsuite: FakeNetSuite) -> Any:
    """What an unconfirmed action must leave as it was: keys, token, audit trail, NetSuite."""
    return (
        list(SigningKey.objects.order_by("pk").values_list("pk", "state", "certificate_id", "verified_at")),
        list(AccessToken.objects.values_list("value", "signing_key_id")),
        actions(),
        len(fake_netsuite.requests),
    )


def wizard_button_asks_by_get(page: str, authentication: HttpAuthentication, step: str) -> bool:
    """The wizard's button for a step opens its confirmation: a GET, with no CSRF token in the URL."""
    form = re.search(
        rf'<form method="get" action="{re.escape(url(authentication, step))}"[^>]*>(.*?)</form>', page, re.S
    )
    return form is not None and "csrfmiddlewaretoken" not in form[1]


def assert_confirmation(response: Any, *words: str) -> str:
    assert response.status_code == 200
    page = response.content.decode()
    for expected in ("What will happen", "What cannot be undone", 'name="confirmed"', "Cancel", *words):
        assert expected in page, expected
    return page


def test_activate_asks_first_and_changes_nothing_until_confirmed(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a verified pending key
    WHEN kim presses "Activate the new key" (a GET) or posts Activate without confirming
    THEN she sees both keys by Certificate ID and fingerprint, what happens and what cannot be
    undone, a form to confirm and a Cancel link back to the wizard; nothing changed or was
    audited. Confirmed, the new key is active as before."""
    authentication = create_authentication(register("p256"))
    old_key = authentication.active_key()
    pending = pending_with_certificate_id(kim_client, authentication, fake_netsuite)
    kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk})
    pending.refresh_from_db()
    assert wizard_button_asks_by_get(
        kim_client.get(url(authentication)).content.decode(), authentication, "activate"
    )
    before = wizard_state(authentication, fake_netsuite)
    posted = {
        "signing_key": pending.pk,
        "certificate_id": pending.certificate_id,
        "fingerprint_sha256": pending.fingerprint_sha256,
    }

    for response in (
        kim_client.get(url(authentication, "activate"), {"signing_key": pending.pk}),
        kim_client.post(url(authentication, "activate"), posted),
    ):
        page = assert_confirmation(
            response,
            "Activate the new key?",
            pending.certificate_id,
            pending.fingerprint_sha256,
            old_key.certificate_id,
            old_key.fingerprint_sha256,
            "Yes, activate the new key",
        )
        assert f'href="{url(authentication)}"' in page
        assert f'action="{url(authentication, "activate")}"' in page
    assert wizard_state(authentication, fake_netsuite) == before

    response = kim_client.post(url(authentication, "activate"), {**posted, "confirmed": "yes"}, follow=True)
    assert f"The key with Certificate ID {pending.certificate_id} is now active" in response.content.decode()
    assert authentication.active_key() == pending


def test_abandon_asks_first_and_changes_nothing_until_confirmed(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a pending key
    WHEN kim presses "Abandon: delete the pending key" (a GET) or posts Abandon without confirming
    THEN she sees the key by fingerprint, that its private key is deleted for good, and a form to
    confirm; nothing changed or was audited. Confirmed, the key is deleted as before."""
    authentication = create_authentication(register("p256"))
    pending = pending_with_certificate_id(kim_client, authentication, fake_netsuite)
    pending.refresh_from_db()
    assert wizard_button_asks_by_get(
        kim_client.get(url(authentication)).content.decode(), authentication, "abandon"
    )
    before = wizard_state(authentication, fake_netsuite)

    for response in (
        kim_client.get(url(authentication, "abandon"), {"signing_key": pending.pk}),
        kim_client.post(url(authentication, "abandon"), {"signing_key": pending.pk}),
    ):
        assert_confirmation(
            response,
            "Delete the pending key?",
            pending.certificate_id,
            pending.fingerprint_sha256,
            "deleted for good",
            "Yes, delete the pending key",
        )
    assert wizard_state(authentication, fake_netsuite) == before

    response = kim_client.post(
        url(authentication, "abandon"), {"signing_key": pending.pk, "confirmed": "yes"}, follow=True
    )
    assert "The pending key was deleted" in response.content.decode()
    assert not SigningKey.objects.filter(pk=pending.pk).exists()


@pytest.mark.parametrize("step", ["activate", "abandon"])
def test_a_confirmation_for_a_pending_key_that_is_gone_returns_to_the_wizard(
    kim_client, register, create_authentication, step
):
    """GIVEN no pending key WHEN Activate or Abandon is asked for one THEN the wizard says it is gone."""
    authentication = create_authentication(register("p256"))
    before = actions()
    response = kim_client.get(url(authentication, step), {"signing_key": "12345"}, follow=True)
    assert "This pending key is gone" in response.content.decode()
    assert actions() == before
