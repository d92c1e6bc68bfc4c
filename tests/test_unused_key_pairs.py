"""Generated key pairs that no authentication took are deleted, private key and all, after
NSCONNECT_UNUSED_KEY_PAIR_DAYS by the daily delete_unused_key_pairs task."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from authentications import tasks
from authentications.models import AuditEvent, SigningKey
from authentications.services import key_pairs
from tests import test_rotation

pytestmark = pytest.mark.django_db

# Kim, the key administrator of test_rotation.py.
kim = test_rotation.kim
kim_client = test_rotation.kim_client


def key_pair_generated(actor: Any, *, days_ago: float) -> SigningKey:
    """A key pair made in nsconnect `days_ago` days ago, not attached to any authentication."""
    with time_machine.travel(timezone.now() - dt.timedelta(days=days_ago)):
        return key_pairs.key_pair_generate(actor=actor, kind="p256", days=365, common_name="Acme ERP")


def still_there(signing_key: SigningKey) -> bool:
    return SigningKey.objects.filter(pk=signing_key.pk).exists()


def test_a_key_pair_unused_past_the_days_is_deleted_and_audited(alice, settings):
    """GIVEN key pairs generated 6 and 8 days ago that no authentication took (7 days allowed)
    WHEN the daily task runs, twice
    THEN the 8-day-old pair is gone and its deletion audited without any secret; the 6-day-old
    one stays; the second run deletes nothing."""
    settings.NSCONNECT_UNUSED_KEY_PAIR_DAYS = 7
    young = key_pair_generated(alice, days_ago=6)
    old = key_pair_generated(alice, days_ago=8)
    private_lines = [line for line in old.private_key.splitlines() if line and "-----" not in line]

    assert tasks.delete_unused_key_pairs() == 1
    assert tasks.delete_unused_key_pairs() == 0

    assert still_there(young) and not still_there(old)
    event = AuditEvent.objects.get(action=AuditEvent.Action.KEY_PAIR_DELETED)
    assert (event.actor_label, event.authentication) == ("scheduler", None)
    assert event.details["signing_key_id"] == old.pk
    assert event.details["fingerprint_sha256"] == old.fingerprint_sha256
    assert event.details["key"] == "EC P-256"
    assert event.details["created_at"] == old.created_at.isoformat()
    text = json.dumps(event.details)
    assert "PRIVATE" not in text and not [line for line in private_lines if line in text]


def test_keys_of_authentications_are_never_deleted(
    alice, register, create_authentication, kim_client, settings
):
    """GIVEN an authentication created 30 days ago (its active key) and a generated pending key of
    its rotation, attached 30 days ago
    WHEN the daily task runs
    THEN neither key is touched: only unattached key pairs go."""
    authentication = create_authentication(register("p256"))
    pending = test_rotation.generate_pending(kim_client, authentication)
    month_ago = timezone.now() - dt.timedelta(days=30)
    SigningKey.objects.filter(authentication=authentication).update(created_at=month_ago)

    assert tasks.delete_unused_key_pairs() == 0

    assert SigningKey.objects.filter(authentication=authentication).count() == 2
    assert authentication.active_key() is not None and still_there(pending)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.KEY_PAIR_DELETED).exists()


def test_the_days_come_from_the_setting(alice, settings):
    settings.NSCONNECT_UNUSED_KEY_PAIR_DAYS = 30
    old = key_pair_generated(alice, days_ago=8)
    assert key_pairs.key_pairs_delete_unused() == []
    assert key_pairs.key_pairs_delete_unused(now=timezone.now() + dt.timedelta(days=23)) == [old.pk]


def test_the_default_is_seven_days():
    assert django_settings.NSCONNECT_UNUSED_KEY_PAIR_DAYS == 7


def test_a_key_pair_taken_after_it_was_listed_is_not_deleted(
    alice, register, create_authentication, monkeypatch
):
    """GIVEN an unused key pair the daily task has listed as due
    WHEN an authentication takes it before the task deletes it
    THEN the task leaves it alone: the delete re-checks that it is unattached."""
    authentication = create_authentication(register("p256"))
    old = key_pair_generated(alice, days_ago=8)
    real_atomic = key_pairs.transaction.atomic

    class TakenFirst:
        @staticmethod
        def atomic() -> Any:
            # What an authentication form taking the key pair between the list and the delete leaves.
            SigningKey.objects.filter(pk=old.pk).update(authentication=authentication)
            return real_atomic()

    monkeypatch.setattr(key_pairs, "transaction", TakenFirst)
    assert key_pairs.key_pairs_delete_unused() == []
    assert still_there(old)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.KEY_PAIR_DELETED).exists()


def test_the_pages_of_a_deleted_key_pair_answer_404(alice, alice_client):
    """GIVEN alice's key pair deleted as unused
    WHEN she opens its page or downloads its certificate, or starts an authentication with it
    THEN the pages answer 404, and the form says the key pair was not found."""
    old = key_pair_generated(alice, days_ago=8)
    page = alice_client.get(f"/authentications/keys/{old.pk}/").content.decode()
    assert "it is deleted on" in page
    key_pairs.key_pairs_delete_unused()

    assert alice_client.get(f"/authentications/keys/{old.pk}/").status_code == 404
    assert alice_client.get(f"/authentications/keys/{old.pk}/certificate.pem").status_code == 404
    assert alice_client.get(f"/authentications/keys/{old.pk}/certificate.crt").status_code == 404
    form = alice_client.get(f"/authentications/new/?signing_key={old.pk}").content.decode()
    assert "This generated key pair was not found." in form


def test_the_key_pair_page_says_when_an_unused_pair_is_deleted(alice, alice_client, settings):
    settings.NSCONNECT_UNUSED_KEY_PAIR_DAYS = 7
    signing_key = key_pair_generated(alice, days_ago=0)
    page = alice_client.get(f"/authentications/keys/{signing_key.pk}/").content.decode()
    deleted_on = (signing_key.created_at + dt.timedelta(days=7)).astimezone(dt.UTC).date()
    assert f"it is deleted on {deleted_on:%Y-%m-%d}" in page
