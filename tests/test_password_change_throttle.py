"""Changing a password asks for the old one, and wrong old passwords count as failed
sign-ins: the same limit per user and address, the same pause page and audit event."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from authentications.models import AuditEvent

ADDRESS = "203.0.113.7"
ELSEWHERE = "198.51.100.20"
NEW_PASSWORD = "a-new-long-passphrase-42"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every attempt checks a password: the default hasher would make these tests slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def change_password(client, old_password: str, address: str = ADDRESS, page: str | None = None):
    return client.post(
        page or reverse("password_change"),
        {"old_password": old_password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        REMOTE_ADDR=address,
    )


def password_is(user, password: str) -> bool:
    user.refresh_from_db()
    return user.check_password(password)


@pytest.mark.django_db
def test_the_right_old_password_changes_it(alice_client, alice):
    """GIVEN alice signed in WHEN she gives her old password and a new one THEN it is changed."""
    response = change_password(alice_client, "x")

    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    assert password_is(alice, NEW_PASSWORD)


@pytest.mark.django_db
def test_five_wrong_old_passwords_pause_the_change_even_for_the_right_one(alice_client, alice):
    """GIVEN five wrong old passwords from alice's session (the fifth already answered with
    the pause) WHEN the right one is given THEN it is refused with the sign-in pause page,
    the password is unchanged, and the lockout is audited once, without the password."""
    for _ in range(4):
        response = change_password(alice_client, "wrong-guess")
        assert response.status_code == 200
        (error,) = response.context["form"].errors.as_data()["old_password"]
        assert error.code == "password_incorrect"
    assert change_password(alice_client, "wrong-guess").status_code == 429

    response = change_password(alice_client, "x")

    assert response.status_code == 429
    assert "sign-in is paused for 15 minutes" in response.content.decode()
    assert password_is(alice, "x")
    (event,) = AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_IN_LOCKED_OUT)
    assert event.actor_label == "alice"
    assert event.ip_address == ADDRESS
    assert "wrong-guess" not in str(event.details)


@pytest.mark.django_db
def test_a_paused_change_pauses_sign_in_from_there_too(alice_client, client, alice):
    """GIVEN five wrong old passwords for alice from one address WHEN she signs in from
    there THEN sign-in is paused: it is one count; from elsewhere she still gets in."""
    for _ in range(5):
        change_password(alice_client, "wrong-guess")
    alice_client.logout()

    response = client.post(reverse("login"), {"username": "alice", "password": "x"}, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 429

    client.post(reverse("login"), {"username": "alice", "password": "x"}, REMOTE_ADDR=ELSEWHERE)
    assert client.get(reverse("home")).context["user"].get_username() == "alice"


@pytest.mark.django_db
def test_the_passwords_tried_are_not_stored(alice_client):
    """GIVEN a wrong old password WHEN its failure is recorded THEN neither it nor the new
    password is anywhere in the record."""
    change_password(alice_client, "wrong-guess")

    (attempt,) = AccessAttempt.objects.all()
    recorded = f"{attempt.post_data} {attempt.get_data}"
    assert "wrong-guess" not in recorded
    assert NEW_PASSWORD not in recorded


@pytest.mark.django_db
def test_the_admins_password_change_is_the_throttled_one(client, admin_user):
    """GIVEN an administrator signed in WHEN the admin's password change page is used with
    five wrong old passwords and then the right one THEN it leads to the throttled page
    and the password is unchanged: the admin's own form checks nothing unthrottled."""
    client.force_login(admin_user)
    page = reverse("admin:password_change")
    for _ in range(5):
        change_password(client, "wrong-guess", page=page)

    response = change_password(client, "password", page=page)

    assert response.status_code == 302
    assert response["Location"] == reverse("password_change")
    assert password_is(admin_user, "password")
