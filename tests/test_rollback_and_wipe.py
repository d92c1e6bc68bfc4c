"""Rolling back to the previous key within the retention, and wiping retired keys after it."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from authentications import selectors, tasks
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services import pending_keys, retired_keys, rotation, rotation_base
from tests import test_rotation
from tests.conftest import new_certificate_id
from tests.fake_netsuite import FakeNetSuite

pytestmark = pytest.mark.django_db

# Kim, the key administrator of test_rotation.py.
kim = test_rotation.kim
kim_client = test_rotation.kim_client


def rotated(authentication: HttpAuthentication, fake_netsuite: FakeNetSuite, actor: Any) -> SigningKey:
    """Rotate through the services to a generated key NetSuite knows; return the retired old key."""
    old_key = authentication.active_key()
    assert old_key is not None
    pending = pending_keys.key_generate_pending(
        authentication=authentication, actor=actor, kind="p256", days=365, common_name="x"
    )
    certificate_id = new_certificate_id()
    fake_netsuite.register(
        consumer_key=authentication.consumer_key,
        certificate_id=certificate_id,
        certificate_pem=pending.certificate_pem,
    )
    pending_keys.key_set_certificate_id(
        authentication=authentication, signing_key_id=pending.pk, certificate_id=certificate_id, actor=actor
    )
    rotation.key_verify(authentication=authentication, signing_key_id=pending.pk, actor=actor)
    rotation.key_activate(
        authentication=authentication,
        signing_key_id=pending.pk,
        actor=actor,
        certificate_id=certificate_id,
        fingerprint_sha256=pending.fingerprint_sha256,
    )
    old_key.refresh_from_db()
    assert old_key.state == "retired"
    return old_key


def raw_private_key(signing_key: SigningKey) -> str:
    with connection.cursor() as cursor:
        table = SigningKey._meta.db_table
        cursor.execute(f"SELECT private_key FROM {table} WHERE id = %s", [signing_key.pk])  # noqa: S608
        row = cursor.fetchone()
        return str(row[0]) if row else "missing"


def test_a_retired_key_past_retention_is_wiped_and_cannot_be_rolled_back_to(
    kim, kim_client, register, create_authentication, fake_netsuite, settings
):
    """GIVEN a key retired 15 days ago with a 14-day retention
    WHEN the daily wipe runs
    THEN its private key column is empty, it is marked wiped and audited, the row stays,
    and rollback to it is refused."""
    settings.NSCONNECT_RETIRED_KEY_RETENTION_DAYS = 14
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    assert raw_private_key(old_key)  # encrypted, not empty
    with time_machine.travel(timezone.now() + dt.timedelta(days=15)):
        assert selectors.rollback_candidate(authentication) is None
        assert tasks.wipe_retired_keys() == 1
        assert tasks.wipe_retired_keys() == 0  # twice is harmless
    # Back to today (the session would have expired): wiped, the key is no rollback target.
    response = kim_client.post(
        f"/authentications/{authentication.identifier}/rotate/rollback/", {"confirmed": "yes"}, follow=True
    )
    assert "no previous key to roll back to" in response.content.decode()
    old_key.refresh_from_db()
    assert raw_private_key(old_key) == "" and old_key.private_key == ""
    assert old_key.wiped_at is not None and old_key.state == "retired"
    assert authentication.active_key().pk != old_key.pk
    event = AuditEvent.objects.get(action="key.wiped")
    assert (event.actor_label, event.details["certificate_id"]) == ("scheduler", old_key.certificate_id)
    assert "PRIVATE" not in str(event.details)
    assert not AuditEvent.objects.filter(action="key.rolled_back").exists()


def test_a_retired_key_inside_retention_is_kept_and_the_command_says_so(
    kim, register, create_authentication, fake_netsuite, settings
):
    """GIVEN a key retired 13 days ago with a 14-day retention
    WHEN wipe_retired_keys runs from the command line
    THEN nothing is wiped and the key can still be rolled back to."""
    settings.NSCONNECT_RETIRED_KEY_RETENTION_DAYS = 14
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    with time_machine.travel(timezone.now() + dt.timedelta(days=13)):
        out = StringIO()
        call_command("wipe_retired_keys", stdout=out)
        assert "Wiped 0 retired private keys" in out.getvalue()
        assert selectors.rollback_candidate(authentication) == old_key
    old_key.refresh_from_db()
    assert raw_private_key(old_key) and old_key.wiped_at is None
    assert not AuditEvent.objects.filter(action="key.wiped").exists()


def test_rollback_is_refused_when_the_previous_key_fails_to_verify(
    kim, kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a rotated authentication whose old certificate was revoked in NetSuite
    WHEN kim rolls back
    THEN the verify fails, the new key stays active, and the failure is audited."""
    registered = register("p256")
    authentication = create_authentication(registered)
    old_key = rotated(authentication, fake_netsuite, kim)
    active = authentication.active_key()
    fake_netsuite.revoke(registered.certificate_id)
    response = kim_client.post(
        f"/authentications/{authentication.identifier}/rotate/rollback/", {"confirmed": "yes"}, follow=True
    )
    assert "NetSuite did not give a token with this key" in response.content.decode()
    assert authentication.active_key() == active
    old_key.refresh_from_db()
    assert old_key.state == "retired"
    event = AuditEvent.objects.filter(action="key.verify_failed").get()
    assert event.details["purpose"] == "rollback"
    assert not AuditEvent.objects.filter(action="key.rolled_back").exists()


def test_the_rotate_page_offers_rollback_to_the_previous_key(
    kim, kim_client, register, create_authentication, fake_netsuite
):
    registered = register("p256")
    authentication = create_authentication(registered)
    rotated(authentication, fake_netsuite, kim)
    page = kim_client.get(f"/authentications/{authentication.identifier}/rotate/").content.decode()
    assert f"Roll back to {registered.certificate_id}" in page


def test_the_detail_page_shows_every_key_version_newest_first(
    kim, kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN an authentication rotated once by kim
    WHEN kim opens its detail page
    THEN the key history lists the new key before the old, who activated and retired them,
    and offers Rotate key and Roll back to the old Certificate ID."""
    registered = register("p256")
    authentication = create_authentication(registered)
    rotated(authentication, fake_netsuite, kim)
    new_key = authentication.active_key()
    page = kim_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    history = page[page.index('id="key-history"') :]
    rows = history[history.index("<tbody>") :]
    assert rows.index(new_key.certificate_id) < rows.index(registered.certificate_id)
    assert "Retired" in history and "by kim" in history
    assert "Rotate key" in history
    assert f"Roll back to {registered.certificate_id}" in history


def no_active_key_without_its_private_key() -> bool:
    return not SigningKey.objects.filter(state="active", private_key="").exists()


def after_the_last_check(monkeypatch: Any, change: Any) -> None:
    """Run `change` right after the rollback's last look at its candidate, inside its transaction:
    where the daily wipe or a revocation, which take no lock on the authentication, can land."""
    looked = []
    real = selectors.rollback_candidate

    def candidate_then_change(authentication: HttpAuthentication, now: Any = None) -> SigningKey | None:
        found = real(authentication, now)
        looked.append(found)
        if len(looked) == 2:  # the first look comes before NetSuite is asked, the second inside the swap
            change(found)
        return found

    monkeypatch.setattr(selectors, "rollback_candidate", candidate_then_change)


def test_a_rollback_that_races_the_daily_wipe_is_refused_and_the_active_key_stays(
    kim, kim_client, register, create_authentication, fake_netsuite, monkeypatch
):
    """GIVEN a rotated authentication whose previous key can still be rolled back to
    WHEN kim rolls back and the daily wipe empties that key right after the rollback checked it
    THEN the rollback is refused, the new key stays active with its private key, the old key
    stays retired, and no authentication has an active key without a private key."""
    registered = register("p256")
    authentication = create_authentication(registered)
    old_key = rotated(authentication, fake_netsuite, kim)
    new_key = authentication.active_key()

    def the_wipe_runs(_: SigningKey | None) -> None:
        assert retired_keys.keys_wipe_retired(now=timezone.now() + dt.timedelta(days=15)) == [old_key.pk]

    after_the_last_check(monkeypatch, the_wipe_runs)
    response = kim_client.post(
        f"/authentications/{authentication.identifier}/rotate/rollback/", {"confirmed": "yes"}, follow=True
    )

    assert "wiped, revoked or changed meanwhile" in response.content.decode()
    assert no_active_key_without_its_private_key()
    assert authentication.active_key() == new_key and raw_private_key(new_key)
    old_key.refresh_from_db()
    # (The wipe ran inside the refused rollback's transaction here, so it was undone with it.)
    assert old_key.state == "retired"
    assert not AuditEvent.objects.filter(action="key.rolled_back").exists()
    # The consumers' token still comes from the new key.
    token = refresh_token_kid(authentication, fake_netsuite)
    assert token == new_key.certificate_id


def test_a_rollback_that_races_a_revocation_is_refused(
    kim, register, create_authentication, fake_netsuite, monkeypatch
):
    """GIVEN a rotated authentication whose previous key can still be rolled back to
    WHEN its certificate is recorded as revoked right after the rollback checked it
    THEN the rollback is refused and the new key stays active."""
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    new_key = authentication.active_key()

    def revoked(found: SigningKey | None) -> None:
        assert found is not None
        SigningKey.objects.filter(pk=found.pk).update(revoked_at=timezone.now())

    after_the_last_check(monkeypatch, revoked)
    with pytest.raises(rotation_base.RotationError, match="wiped, revoked or changed meanwhile"):
        retired_keys.key_rollback(authentication=authentication, actor=kim)
    assert authentication.active_key() == new_key
    old_key.refresh_from_db()
    assert old_key.state == "retired"


def test_the_wipe_leaves_a_key_rolled_back_after_it_was_listed(
    kim, register, create_authentication, fake_netsuite, monkeypatch
):
    """GIVEN a retired key the daily wipe has listed as due
    WHEN it is active again (rolled back) before the wipe claims it
    THEN the wipe leaves it and its private key alone."""
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    new_key = authentication.active_key()
    real_atomic = retired_keys.transaction.atomic

    class RolledBackFirst:
        @staticmethod
        def atomic() -> Any:
            # What a rollback committing between the wipe's list and its claim leaves.
            SigningKey.objects.filter(pk=new_key.pk).update(state="retired", retired_at=timezone.now())
            SigningKey.objects.filter(pk=old_key.pk).update(state="active", retired_at=None)
            return real_atomic()

    monkeypatch.setattr(retired_keys, "transaction", RolledBackFirst)
    assert retired_keys.keys_wipe_retired(now=timezone.now() + dt.timedelta(days=15)) == []
    old_key.refresh_from_db()
    assert old_key.state == "active" and raw_private_key(old_key) and old_key.wiped_at is None
    assert no_active_key_without_its_private_key()


def refresh_token_kid(authentication: HttpAuthentication, fake_netsuite: FakeNetSuite) -> str:
    return test_rotation.consumer_token(authentication, fake_netsuite)


def test_rollback_asks_first_and_changes_nothing_until_confirmed(
    kim, kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a rotated authentication
    WHEN kim presses "Roll back to ..." (a GET) or posts Roll back without confirming
    THEN she sees both keys by Certificate ID and fingerprint, what happens and what cannot be
    undone, a form to confirm and a Cancel link; NetSuite was not asked, nothing changed or was
    audited. Confirmed, the old key is active again as before."""
    authentication = create_authentication(register("p256"))
    old_key = rotated(authentication, fake_netsuite, kim)
    active = authentication.active_key()
    assert active is not None
    rollback = f"/authentications/{authentication.identifier}/rotate/rollback/"
    wizard = kim_client.get(f"/authentications/{authentication.identifier}/rotate/").content.decode()
    assert f'<form method="get" action="{rollback}">' in wizard
    before = test_rotation.wizard_state(authentication, fake_netsuite)

    for response in (kim_client.get(rollback), kim_client.post(rollback)):
        test_rotation.assert_confirmation(
            response,
            f"Roll back to {old_key.certificate_id}?",
            old_key.fingerprint_sha256,
            active.certificate_id,
            active.fingerprint_sha256,
            f"Yes, roll back to {old_key.certificate_id}",
        )
    assert test_rotation.wizard_state(authentication, fake_netsuite) == before

    response = kim_client.post(rollback, {"confirmed": "yes"}, follow=True)
    assert "Rolled back" in response.content.decode()
    assert authentication.active_key() == old_key
