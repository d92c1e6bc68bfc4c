"""The app refuses to start with unsafe settings (Django system checks)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core import checks

from authentications.checks import check_allowlist, check_secrets


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
