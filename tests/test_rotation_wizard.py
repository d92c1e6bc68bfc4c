"""The rotation wizard's page: its steps say in words which are done, current and next; after
Activate it says the rotation is complete, what changed and what is next, for as long as the
previous key is kept for rollback; a new key defaults to the kind of the key it replaces; and a
second press of Generate is not reported as an error."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from authentications import tasks
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from tests import test_rotation
from tests.conftest import page_text
from tests.test_rollback_and_wipe import rotated

pytestmark = pytest.mark.django_db

kim = test_rotation.kim
kim_client = test_rotation.kim_client
url = test_rotation.url

STEPS = re.compile(r'<ol[^>]*aria-label="Rotation steps"[^>]*>(.*?)</ol>', re.S)
STEP = re.compile(r"<li([^>]*)>(.*?)</li>", re.S)
LABELS = ["1. New key", "2. Certificate in NetSuite", "3. Verify", "4. Activate", "5. Rotation complete"]


def wizard(kim_client: Any, authentication: HttpAuthentication) -> str:
    response = kim_client.get(url(authentication))
    assert response.status_code == 200
    return str(response.content.decode())


def steps(page: str) -> list[str]:
    """Each step as a person reads it: its text without the markup; the current one marked "*"."""
    found = STEPS.search(page)
    assert found, "no list of rotation steps"
    return [
        page_text(body) + (" *" if 'aria-current="step"' in attributes else "")
        for attributes, body in STEP.findall(found.group(1))
    ]


def at_step(current: int) -> list[str]:
    """The steps when `current` (1 to 5) is where the rotation is."""
    said = {True: "done", False: "next"}
    return [
        f"{label} current *" if number == current else f"{label} {said[number < current]}"
        for number, label in enumerate(LABELS, start=1)
    ]


def complete(page: str) -> bool:
    """Whether the page says the rotation is complete (not just names it as the last step)."""
    return re.search(r"<h2[^>]*>Rotation complete</h2>", page) is not None


def local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def test_the_steps_say_in_words_which_are_done_current_and_next(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN an authentication with one active key
    WHEN kim goes through the wizard step by step
    THEN at each step the list of steps says in words which are done, which one is current
    (also marked aria-current="step") and which come next."""
    authentication = create_authentication(register("p256"))
    assert steps(wizard(kim_client, authentication)) == at_step(1)

    pending = test_rotation.generate_pending(kim_client, authentication)
    assert steps(wizard(kim_client, authentication)) == at_step(2)

    certificate_id = test_rotation.register_certificate(
        fake_netsuite, authentication, pending.certificate_pem
    )
    kim_client.post(
        url(authentication, "certificate-id"), {"signing_key": pending.pk, "certificate_id": certificate_id}
    )
    assert steps(wizard(kim_client, authentication)) == at_step(3)

    kim_client.post(url(authentication, "verify"), {"signing_key": pending.pk})
    assert steps(wizard(kim_client, authentication)) == at_step(4)

    assert test_rotation.activate(kim_client, authentication, pending).status_code == 302
    assert steps(wizard(kim_client, authentication)) == at_step(5)


def test_after_activate_the_wizard_says_the_rotation_is_complete_what_changed_and_what_is_next(
    kim, kim_client, register, create_authentication, fake_netsuite, settings
):
    """GIVEN a rotation just activated (through the services: no message waits in the session)
    WHEN kim opens the wizard, and opens it again
    THEN both times it says the rotation is complete; what changed: the new key's type,
    Certificate ID, fingerprint, expiry and since when it signs, and until when the previous key
    is kept for rollback; what is next: roll back, revoke the old certificate in NetSuite once
    rollback is no longer wanted, or start another rotation."""
    settings.NSCONNECT_RETIRED_KEY_RETENTION_DAYS = 14
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    new_key = authentication.active_key()
    assert new_key is not None and new_key.activated_at is not None and old_key.retired_at is not None

    for _ in range(2):
        page = wizard(kim_client, authentication)
        said = page_text(page)
        assert complete(page)
        assert "What changed" in page and "What is next" in page
        assert "EC P-256" in page
        assert new_key.certificate_id in page
        assert new_key.fingerprint_sha256 in page
        assert f"{new_key.effective_expires_at:%Y-%m-%d}" in page
        assert f"Signs tokens since {local(new_key.activated_at)}" in said
        assert f"kept for rollback until {local(old_key.retired_at + dt.timedelta(days=14))}" in said
        assert f"Roll back to {old_key.certificate_id}" in page
        assert "Revoke old certificate in NetSuite" in page
        assert "in NetSuite once you no longer want the way back" in said
        assert "Start another rotation" in page
        assert "Generate a new key pair" in page
        assert steps(page) == at_step(5)


def test_revoke_is_offered_in_the_complete_state_only_where_it_is_possible(
    kim, kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a rotation completed on an authentication without the rest_webservices scope
    WHEN kim opens the wizard
    THEN it is complete and offers the rollback, but no revoke button: it says where to revoke."""
    registered = register("p256", scopes=("restlets",))
    authentication = create_authentication(registered, scopes="restlets")
    old_key = rotated(authentication, fake_netsuite, kim)
    page = wizard(kim_client, authentication)
    assert complete(page)
    assert f"Roll back to {old_key.certificate_id}" in page
    assert "Revoke old certificate in NetSuite" not in page
    assert "OAuth 2.0 Client Credentials (M2M) Setup" in page


@pytest.mark.parametrize("gone", ["wiped", "revoked", "retention over"])
def test_once_the_previous_key_is_gone_the_wizard_starts_over(
    kim, kim_client, register, create_authentication, fake_netsuite, settings, gone
):
    """GIVEN a completed rotation
    WHEN its previous key is wiped, revoked in NetSuite, or past the retention
    THEN the wizard no longer says the rotation is complete: it is back at its first step."""
    settings.NSCONNECT_RETIRED_KEY_RETENTION_DAYS = 14
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    assert complete(wizard(kim_client, authentication))
    # The key's retirement moved back in time, rather than the clock forward: the session would expire.
    if gone == "revoked":
        SigningKey.objects.filter(pk=old_key.pk).update(revoked_at=timezone.now())
    else:
        retired_at = timezone.now() - dt.timedelta(days=14, minutes=1)
        SigningKey.objects.filter(pk=old_key.pk).update(retired_at=retired_at)
        if gone == "wiped":
            assert tasks.wipe_retired_keys() == 1
    page = wizard(kim_client, authentication)
    assert not complete(page)
    assert steps(page) == at_step(1)
    assert "Generate a new key pair" in page


def test_after_a_rollback_the_wizard_is_not_complete_but_offers_the_way_forward_again(
    kim, kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a rotation activated then rolled back
    WHEN kim opens the wizard
    THEN it does not call that a completed rotation: it is at its first step, the old key active,
    with the rollback to the newer key still offered."""
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    new_key = authentication.active_key()
    assert new_key is not None
    response = kim_client.post(url(authentication, "rollback"), {"confirmed": "yes"})
    assert response.status_code == 302
    assert authentication.active_key() == old_key
    page = wizard(kim_client, authentication)
    assert not complete(page)
    assert steps(page) == at_step(1)
    assert f"Roll back to {new_key.certificate_id}" in page


def selected_kind(page: str) -> str:
    chosen = re.findall(r'<option value="([a-z0-9]+)"[^>]*\bselected\b', page)
    assert len(chosen) == 1, chosen
    return chosen[0]


@pytest.mark.parametrize("kind", ["rsa3072", "rsa4096", "p256", "p384", "p521"])
def test_a_new_key_defaults_to_the_type_of_the_key_it_replaces(
    kim_client, register, create_authentication, kind
):
    """GIVEN an authentication whose active key is of some kind
    WHEN kim opens the wizard
    THEN the Generate form's key type starts on that same kind."""
    authentication = create_authentication(register(kind))
    assert selected_kind(wizard(kim_client, authentication)) == kind


def test_a_key_of_a_size_nsconnect_does_not_generate_falls_back_to_the_default(
    kim_client, register, create_authentication
):
    """GIVEN an active key of a size nsconnect does not generate (stored before the rules, say)
    WHEN kim opens the wizard
    THEN the Generate form starts on the default kind, EC P-256."""
    authentication = create_authentication(register("rsa3072"))
    SigningKey.objects.filter(authentication=authentication).update(key_size=8192)
    assert selected_kind(wizard(kim_client, authentication)) == "p256"


GENERATE = {"kind": "p384", "days": "365", "common_name": ""}


def test_a_second_generate_with_the_same_values_moments_later_shows_the_pending_key_without_an_error(
    kim_client, register, create_authentication
):
    """GIVEN kim pressed Generate
    WHEN the same request arrives again moments later (a double click, a resent form)
    THEN it returns to the wizard showing the key the first made, with no error and no second key."""
    authentication = create_authentication(register("p256"))
    first = kim_client.post(url(authentication, "generate"), GENERATE)
    assert first.status_code == 302
    pending = SigningKey.objects.get(authentication=authentication, state="pending")

    second = kim_client.post(url(authentication, "generate"), GENERATE)
    assert second.status_code == 302
    assert second.url == url(authentication)
    page = kim_client.get(second.url).content.decode()
    assert "already in progress" not in page
    assert pending.fingerprint_sha256 in page
    assert list(SigningKey.objects.filter(authentication=authentication, state="pending")) == [pending]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.KEY_ADDED).count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.KEY_GENERATED).count() == 1


@pytest.mark.parametrize(
    "difference", ["another kind", "another lifetime", "another name", "later", "another user"]
)
def test_a_genuinely_different_generate_is_still_told_a_rotation_is_in_progress(
    kim_client, django_user_model, register, create_authentication, difference
):
    """GIVEN a pending key kim generated
    WHEN another Generate arrives that is not the same request moments later
    THEN it is refused with the clear message, and the pending key stays the only one."""
    authentication = create_authentication(register("p256"))
    assert kim_client.post(url(authentication, "generate"), GENERATE).status_code == 302
    pending = SigningKey.objects.get(authentication=authentication, state="pending")
    values, poster, moment = dict(GENERATE), kim_client, timezone.now()
    if difference == "another kind":
        values["kind"] = "p256"
    elif difference == "another lifetime":
        values["days"] = "364"
    elif difference == "another name":
        values["common_name"] = "Something else"
    elif difference == "later":
        moment += dt.timedelta(minutes=1)
    else:
        kai = django_user_model.objects.create_user(username="kai", password="x")
        kai.user_permissions.add(Permission.objects.get(codename="rotate_key"))
        poster = Client()
        poster.force_login(kai)
    with time_machine.travel(moment):
        response = poster.post(url(authentication, "generate"), values, follow=True)
    assert "already in progress" in response.content.decode()
    assert list(SigningKey.objects.filter(authentication=authentication, state="pending")) == [pending]
