"""The audit trail shows its times, and the datetimes in event details, in the page's time zone
and format, never as ISO strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from authentications.models import AuditEvent
from authentications.services import audit_trail

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 12, 2, 20, 0, 5, tzinfo=dt.UTC)


@pytest.fixture
def failure(authentication_in_state: Any) -> None:
    """GIVEN a failed retrieval whose details say when the next attempt is, at the top level and nested."""
    acme = authentication_in_state("Acme ERP")
    AuditEvent.objects.all().delete()
    with time_machine.travel(AT, tick=False):
        audit_trail.audit(
            action=AuditEvent.Action.TOKEN_FAILED,
            authentication=acme,
            actor="scheduler",
            details={
                "next_attempt_at": "2026-12-02T21:07:00+00:00",
                "previous": {"expires_at": "2026-12-01T23:30:00Z"},
                "message": "Not a date: 2026-12-02T21:07:00+00:00 in a sentence",
            },
        )


def test_details_show_their_datetimes_in_the_pages_time_zone(
    alice_client: Any, settings: Any, failure: None
) -> None:
    settings.TIME_ZONE = "Europe/Amsterdam"

    page = alice_client.get("/audit/").content.decode()

    assert "Times are in Europe/Amsterdam." in page
    assert '<time class="text-nowrap" datetime="2026-12-02T20:00:05+00:00">2026-12-02 21:00:05</time>' in page
    assert (
        '<span class="text-body-secondary">next attempt at:</span> '
        '<time class="text-nowrap" datetime="2026-12-02T21:07:00+00:00">2026-12-02 22:07</time>'
    ) in page
    assert (
        'expires at: <time class="text-nowrap" datetime="2026-12-01T23:30:00+00:00">2026-12-02 00:30</time>'
        in page
    )
    # Dates are recognised as whole values only: a sentence is shown as it was written.
    assert "Not a date: 2026-12-02T21:07:00+00:00 in a sentence" in page
    assert ">2026-12-02T21:07:00+00:00<" not in page


def test_in_utc_they_read_as_utc(alice_client: Any, failure: None) -> None:
    page = alice_client.get("/audit/").content.decode()
    assert "Times are in UTC." in page
    assert '<time class="text-nowrap" datetime="2026-12-02T21:07:00+00:00">2026-12-02 21:07</time>' in page
