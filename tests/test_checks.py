"""The app refuses to start with unsafe settings (Django system checks)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

import pytest
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from authentications.checks import check_allowlist, check_secrets, refuse_malformed_allowlist
from authentications.netsuite.token_urls import allowlisted_origins


def ids(errors: Sequence[checks.CheckMessage]) -> list[str]:
    return [error.id or "" for error in errors]


def test_debug_off_needs_a_secret_key_from_the_environment(settings):
    settings.DEBUG = False
    settings.SECRET_KEY_FROM_ENV = False
    assert "nsconnect.E001" in ids(check_secrets())
    settings.SECRET_KEY_FROM_ENV = True
    assert "nsconnect.E001" not in ids(check_secrets())


def test_debug_on_may_use_a_throwaway_secret_key(settings):
    settings.DEBUG = True
    settings.SECRET_KEY_FROM_ENV = False
    assert "nsconnect.E001" not in ids(check_secrets())


def test_encryption_keys_are_required_and_must_be_fernet_keys(settings):
    settings.NSCONNECT_ENCRYPTION_KEYS = []
    assert "nsconnect.E002" in ids(check_secrets())
    settings.NSCONNECT_ENCRYPTION_KEYS = ["not-a-key"]
    assert "nsconnect.E003" in ids(check_secrets())


def test_the_allowlist_takes_origins_only(settings):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = ["http://127.0.0.1:8900"]
    assert check_allowlist() == []
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = ["127.0.0.1:8900", "https://example.com/path"]
    assert ids(check_allowlist()) == ["nsconnect.E004", "nsconnect.E004"]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("http://127.0.0.1:08900", "port that is not a number"),
        ("http://u@127.0.0.1:8900", "no user name or password"),
        ("http://127.1:8900", "four decimal numbers"),
        ("https://example.com/path", "has a path"),
    ],
    ids=["leading-zero-port", "user-info", "short-ip", "path"],
)
def test_the_allowlist_check_refuses_what_the_allowlist_itself_cannot_read(settings, entry, says):
    """GIVEN an allowlist entry the URL parser refuses (so it would silently admit nothing)
    WHEN the system checks run THEN E004 names the variable, the entry's position and the reason,
    and the allowlist indeed admits nothing from it."""
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = ["http://127.0.0.1:8900", entry]

    errors = check_allowlist()

    assert ids(errors) == ["nsconnect.E004"]
    assert "NSCONNECT_TOKEN_URL_ALLOWLIST entry 2 is not an origin" in errors[0].msg
    assert says in errors[0].msg
    assert allowlisted_origins() == {("http", "127.0.0.1", 8900)}


def test_the_allowlist_check_does_not_quote_an_entry_that_may_hold_a_password(settings):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = ["http://user:hunter2@127.0.0.1:8900"]

    errors = check_allowlist()

    assert ids(errors) == ["nsconnect.E004"]
    assert "hunter2" not in errors[0].msg


def test_the_allowlist_check_takes_origins_with_or_without_a_slash_and_ipv6(settings):
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [
        "http://127.0.0.1:8900/",
        "https://sandbox.example.com",
        "http://[::1]:8900",
    ]

    assert check_allowlist() == []


def test_starting_is_refused_with_a_malformed_allowlist_entry(settings):
    """GIVEN a malformed entry WHEN the web app or worker start-up check runs THEN it refuses,
    naming the variable and the entry's position."""
    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = ["http://127.1:8900"]

    with pytest.raises(ImproperlyConfigured, match="NSCONNECT_TOKEN_URL_ALLOWLIST entry 1 is not an origin"):
        refuse_malformed_allowlist()

    settings.NSCONNECT_TOKEN_URL_ALLOWLIST = ["http://127.0.0.1:8900"]
    refuse_malformed_allowlist()


def test_a_fresh_start_registers_the_apps_checks_and_sign_in_receivers():
    """GIVEN a malformed allowlist entry WHEN Django starts in a new process, as manage.py,
    gunicorn and the worker do THEN `manage.py check` fails with nsconnect's own check and the
    sign-in receiver is connected: both exist only if the app's ready() imported them."""
    probe = (
        "import django; django.setup()\n"
        "from django.contrib.auth.signals import user_logged_in\n"
        "from django.core.management import call_command\n"
        "sync, async_ = user_logged_in._live_receivers(None)\n"
        "print(sorted(receiver.__name__ for receiver in [*sync, *async_]))\n"
        "call_command('check')\n"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "nsconnect.settings",
        "NSCONNECT_TOKEN_URL_ALLOWLIST": "https://example.com/path",
    }
    started = subprocess.run(  # noqa: S603  (this interpreter, fixed arguments)
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert started.returncode != 0
    assert "nsconnect.E004" in started.stderr
    assert "clear_own_failures" in started.stdout
