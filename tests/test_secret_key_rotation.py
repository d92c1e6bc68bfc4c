"""Replacing SECRET_KEY with the old one in SECRET_KEY_FALLBACKS keeps people signed in;
without the fallback (after a leak) everyone signs in again."""

from __future__ import annotations

import pytest

NEW_KEY = "a-new-secret-key-for-this-test-only-" + "x" * 30


@pytest.mark.parametrize(("fallback", "signed_in"), [(True, True), (False, False)])
def test_a_replaced_secret_key_keeps_sessions_only_with_the_old_one_as_fallback(
    alice_client, settings, fallback, signed_in
):
    assert alice_client.get("/").status_code == 200
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = NEW_KEY
    settings.SECRET_KEY_FALLBACKS = [old_key] if fallback else []
    response = alice_client.get("/")
    assert (response.status_code == 200) is signed_in
    if not signed_in:
        assert "/login/" in response["Location"]
