"""Password reset is offered only when email really leaves the machine, and is throttled per
address and per email address without telling whether an account exists."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache
from django.urls import reverse

RESET_PAGES = ["/accounts/password_reset/", "/accounts/password_reset/done/", "/accounts/reset/done/"]


class Mailbox:
    """An aiosmtpd handler that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def smtp(settings) -> Iterator[Mailbox]:
    """Email configured as production has it: SMTP, here to a server on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield mailbox
    finally:
        controller.stop()


def ask_for_reset(client, email: str, address: str = "192.0.2.10"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    ],
)
def test_without_email_there_is_no_password_reset(client, settings, backend):
    """GIVEN email that stays on this machine WHEN someone looks for password reset
    THEN the pages do not exist and the sign-in page does not offer it."""
    settings.EMAIL_BACKEND = backend

    for page in RESET_PAGES:
        assert client.get(page).status_code == 404
    assert client.post(RESET_PAGES[0], {"email": "alice@example.com"}).status_code == 404
    assert "Forgot your password?" not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_with_smtp_a_reset_link_is_mailed(client, smtp, alice):
    """GIVEN SMTP configured WHEN alice asks from the sign-in page's link THEN she gets a
    mail with a link that lets her choose a new password."""
    login_page = client.get(reverse("login")).content.decode()
    assert "Forgot your password?" in login_page
    assert client.get(reverse("password_reset")).status_code == 200

    response = ask_for_reset(client, "alice@example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    (message,) = smtp.messages
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message)
    assert link is not None, message
    choose = client.get(link.group(1), follow=True)
    assert "Choose a new password" in choose.content.decode()
    client.post(
        choose.redirect_chain[-1][0], {"new_password1": "a-new-l0ng-pass", "new_password2": "a-new-l0ng-pass"}
    )
    alice.refresh_from_db()
    assert alice.check_password("a-new-l0ng-pass")


@pytest.mark.django_db
def test_an_unknown_address_gets_the_same_answer(client, smtp, alice):
    """GIVEN SMTP configured WHEN someone asks for an address no account has THEN the
    answer is the same as for a real one and nothing is mailed."""
    response = ask_for_reset(client, "nobody@example.com")

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert smtp.messages == []


@pytest.mark.django_db
def test_one_email_address_gets_a_few_mails_an_hour(client, smtp, alice, settings):
    """GIVEN three resets asked for alice from different addresses WHEN a fourth is asked
    THEN the answer is the same but no fourth mail goes out."""
    for number in range(settings.NSCONNECT_PASSWORD_RESETS_PER_EMAIL):
        ask_for_reset(client, "alice@example.com", address=f"192.0.2.{number + 1}")

    response = ask_for_reset(client, "ALICE@example.com", address="192.0.2.99")

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(smtp.messages) == settings.NSCONNECT_PASSWORD_RESETS_PER_EMAIL


@pytest.mark.django_db
def test_one_address_may_ask_a_few_times_an_hour(client, smtp, settings):
    """GIVEN an address that asked five times (for different email addresses) WHEN it asks
    again THEN it is told to wait."""
    for number in range(settings.NSCONNECT_PASSWORD_RESETS_PER_ADDRESS):
        assert ask_for_reset(client, f"someone{number}@example.com").status_code == 302

    response = ask_for_reset(client, "someone-else@example.com")

    assert response.status_code == 429
    assert "Try again in 60 minutes" in response.content.decode()
    assert ask_for_reset(client, "someone-else@example.com", address="192.0.2.200").status_code == 302
