"""Sign-in is throttled by user and by address (django-axes): a locked-out sign-in gets a
plain page saying for how long, leaves one audit event, and locks no one else out."""

from __future__ import annotations

import pytest
from django.urls import reverse

from authentications.models import AuditEvent

ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every attempt checks a password: the default hasher would make these tests slow.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", email="bob@example.com", password="bobs-pw")


def sign_in(client, username: str, password: str, address: str):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in_as(client) -> str | None:
    response = client.get(reverse("home"))
    return response.context["user"].get_username() if response.status_code == 200 else None


@pytest.mark.django_db
def test_five_wrong_passwords_pause_the_sign_in_even_for_the_right_one(client, alice, settings):
    """GIVEN five wrong passwords for alice from one address (the fifth already answered
    with the pause) WHEN the right one is tried from there THEN it is refused with a page
    saying sign-in is paused for 15 minutes."""
    for _ in range(4):
        assert sign_in(client, "alice", "wrong-guess", ATTACKER).status_code == 200
    assert sign_in(client, "alice", "wrong-guess", ATTACKER).status_code == 429

    response = sign_in(client, "alice", "x", ATTACKER)

    assert response.status_code == 429
    page = response.content.decode()
    assert "sign-in is paused for 15 minutes" in page
    assert "ask an administrator" in page
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_a_lockout_is_audited_once_without_the_password(client, alice):
    """GIVEN alice locked out WHEN more attempts follow THEN the audit trail has one lockout
    event, naming alice and the address, and no password anywhere in it."""
    for _ in range(8):
        sign_in(client, "alice", "wrong-guess", ATTACKER)

    (event,) = AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_IN_LOCKED_OUT)
    assert event.actor_label == "alice"
    assert event.ip_address == ATTACKER
    assert event.authentication is None
    assert "wrong-guess" not in str(event.details)


@pytest.mark.django_db
def test_others_are_not_locked_out(client, alice, bob):
    """GIVEN alice locked out from one address WHEN bob signs in from another, bob from the
    same address, and alice herself from elsewhere THEN each gets in."""
    for _ in range(5):
        sign_in(client, "alice", "wrong-guess", ATTACKER)

    sign_in(client, "bob", "bobs-pw", ELSEWHERE)
    assert signed_in_as(client) == "bob"
    client.logout()
    sign_in(client, "bob", "bobs-pw", ATTACKER)
    assert signed_in_as(client) == "bob"
    client.logout()
    sign_in(client, "alice", "x", ELSEWHERE)
    assert signed_in_as(client) == "alice"


@pytest.mark.django_db
def test_an_address_trying_many_users_is_paused(client, bob, settings):
    """GIVEN twenty failures from one address, each for a different user WHEN bob signs in
    from there with his password THEN it is refused."""
    for number in range(settings.NSCONNECT_SIGN_IN_FAILURES_PER_ADDRESS):
        sign_in(client, f"user{number}", "wrong-guess", ATTACKER)

    response = sign_in(client, "bob", "bobs-pw", ATTACKER)

    assert response.status_code == 429
    assert signed_in_as(client) is None


@pytest.mark.django_db
def test_a_right_password_clears_the_count(client, alice):
    """GIVEN four wrong passwords then the right one WHEN one more wrong password follows
    THEN alice can still sign in: the count started again."""
    for _ in range(4):
        sign_in(client, "alice", "wrong-guess", ATTACKER)
    sign_in(client, "alice", "x", ATTACKER)
    client.logout()

    sign_in(client, "alice", "wrong-guess", ATTACKER)
    sign_in(client, "alice", "x", ATTACKER)

    assert signed_in_as(client) == "alice"


@pytest.mark.django_db
def test_the_admin_sign_in_is_throttled_too(client, admin_user):
    """GIVEN five wrong passwords on the admin's sign-in page WHEN the right one follows
    THEN the admin's sign-in is paused as well."""
    for _ in range(5):
        client.post("/admin/login/", {"username": "admin", "password": "wrong-guess"}, REMOTE_ADDR=ATTACKER)

    response = client.post(
        "/admin/login/", {"username": "admin", "password": "password"}, REMOTE_ADDR=ATTACKER
    )

    assert response.status_code == 429
    assert "sign-in is paused" in response.content.decode()


@pytest.fixture
def kate(django_user_model):
    return django_user_model.objects.create_user(
        username="kate", email="kate@example.com", password="kates-pw"
    )


@pytest.mark.django_db
def test_someone_elses_sign_in_does_not_clear_a_users_failures(client, alice, kate):
    """GIVEN four wrong passwords for kate from one address, each run followed by alice
    signing in from there WHEN kate's password is guessed a fifth time THEN kate is
    paused: alice's sign-ins cleared only alice's own failures, and still work."""
    for _ in range(4):
        assert sign_in(client, "kate", "wrong-guess", ATTACKER).status_code == 200
    sign_in(client, "alice", "x", ATTACKER)
    assert signed_in_as(client) == "alice"
    client.logout()

    response = sign_in(client, "kate", "wrong-guess", ATTACKER)

    assert response.status_code == 429
    assert sign_in(client, "kate", "kates-pw", ATTACKER).status_code == 429
    assert signed_in_as(client) is None
    sign_in(client, "alice", "x", ATTACKER)
    assert signed_in_as(client) == "alice"


@pytest.mark.django_db
def test_an_address_lockout_is_audited_once_whatever_the_usernames(client, settings):
    """GIVEN an address paused after failures for many users WHEN 25 more attempts follow
    from there, each with a new username THEN the audit trail has one lockout event."""
    for number in range(settings.NSCONNECT_SIGN_IN_FAILURES_PER_ADDRESS):
        sign_in(client, f"user{number}", "wrong-guess", ATTACKER)

    for number in range(25):
        assert sign_in(client, f"someone{number}", "wrong-guess", ATTACKER).status_code == 429

    (event,) = AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_IN_LOCKED_OUT)
    assert event.ip_address == ATTACKER


@pytest.mark.django_db
def test_once_an_address_is_paused_new_usernames_add_nothing_to_the_trail(client, settings):
    """GIVEN an address spraying wrong passwords, six for each of eight users (some of them
    paused one by one, then the whole address) WHEN it goes on with five wrong passwords for each
    of 20 new usernames THEN those 100 requests add no audit event (axes counts each refused
    attempt against the name it gives, so every new name would otherwise reach its own pause)."""
    for number in range(8):
        for _ in range(6):
            sign_in(client, f"spray{number}", "wrong-guess", ATTACKER)
    events = AuditEvent.objects.filter(action=AuditEvent.Action.SIGN_IN_LOCKED_OUT)
    before = events.count()
    assert events.filter(details__scope="address", ip_address=ATTACKER).count() == 1
    assert (
        before
        <= 1 + settings.NSCONNECT_SIGN_IN_FAILURES_PER_ADDRESS // settings.NSCONNECT_SIGN_IN_FAILURES_PER_USER
    )

    for number in range(20):
        for _ in range(5):
            assert sign_in(client, f"flood{number}", "wrong-guess", ATTACKER).status_code == 429

    assert events.count() == before


@pytest.mark.django_db
def test_a_username_longer_than_any_is_counted_not_an_error(client):
    """GIVEN a sign-in naming a 300-character user WHEN it fails THEN it is refused like any other
    and counted under a name no longer than a username can be (the attempts table holds 255:
    PostgreSQL refused the longer one with a 500)."""
    from axes.models import AccessAttempt

    response = sign_in(client, "u" * 300, "wrong-guess", ATTACKER)

    assert response.status_code == 200
    (attempt,) = AccessAttempt.objects.all()
    assert attempt.username == "u" * 150
