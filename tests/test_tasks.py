"""The scheduler's tasks, run in the test process: which ids the sweep enqueues, and
what a refresh does when it runs twice."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings
from django.utils import timezone

from authentications import tasks
from authentications.models import AccessToken, HttpAuthentication

pytestmark = pytest.mark.django_db


def test_the_sweep_enqueues_exactly_the_authentications_due(authentication_in_state, fake_netsuite, settings):
    """GIVEN authentications in every state WHEN the sweep runs THEN only those that need a token
    now are enqueued, each once, by id, in batches."""
    settings.NSCONNECT_REFRESH_MARGIN_SECONDS = 600
    no_token = authentication_in_state("No token yet")
    expiring = authentication_in_state("Expiring", token_seconds=300)
    authentication_in_state("Fresh", token_seconds=3000)
    authentication_in_state("Disabled", enabled=False)
    authentication_in_state("Stopped", retries_stopped=True)
    authentication_in_state("Backing off", next_attempt_at=timezone.now() + dt.timedelta(minutes=5))

    with mock.patch.object(tasks.refresh_tokens, "delay") as delay:
        count = tasks.sweep_tokens()

    enqueued = [pk for call in delay.call_args_list for pk in call.args[0]]
    assert sorted(enqueued) == sorted([no_token.pk, expiring.pk])
    assert count == 2
    assert fake_netsuite.requests == []  # the sweep itself never asks NetSuite


def test_a_back_off_that_has_passed_is_due_again(authentication_in_state):
    waited = authentication_in_state("Waited", next_attempt_at=timezone.now() - dt.timedelta(seconds=1))

    with mock.patch.object(tasks.refresh_tokens, "delay") as delay:
        tasks.sweep_tokens()

    delay.assert_called_once_with([waited.pk], settings.NSCONNECT_NETSUITE_CONCURRENCY)


def test_refresh_token_twice_makes_one_request(authentication_in_state, fake_netsuite):
    """GIVEN an authentication without a token WHEN its refresh task runs twice (a duplicate
    delivery) THEN NetSuite is asked once and the second run says it had nothing to do."""
    authentication = authentication_in_state("Twice")

    first = tasks.refresh_token(authentication.pk)
    second = tasks.refresh_token(authentication.pk)

    token = AccessToken.objects.get(authentication=authentication)
    assert first == f"valid until {token.expires_at.isoformat()}"
    assert second == "not due"
    assert len(fake_netsuite.issued_tokens) == 1
    assert token.value == fake_netsuite.issued_tokens[0]
    assert token.value not in first


def test_refresh_token_reports_a_failure_without_secrets(authentication_in_state, fake_netsuite):
    authentication = authentication_in_state("Refused")
    fake_netsuite.fail_next("invalid_client")

    status = tasks.refresh_token(authentication.pk)

    assert status == "failed: invalid_client"
    assert HttpAuthentication.objects.get(pk=authentication.pk).retries_stopped
