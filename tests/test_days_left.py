"""Certificate days left: counted to NetSuite's effective expiry, coloured by urgency."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from authentications.templatetags.authentications_tags import days_left

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("moment", "text", "colour"),
    [
        ("2027-01-01 00:00", "60 days left", "success"),
        ("2027-01-30 00:00", "31 days left", "success"),
        ("2027-01-31 00:00", "30 days left", "warning"),
        ("2027-02-22 00:00", "8 days left", "warning"),
        ("2027-02-23 00:00", "7 days left", "danger"),
        ("2027-03-01 23:00", "1 day left", "danger"),
        ("2027-03-02 11:59", "0 days left", "danger"),
        ("2027-03-02 12:00", "expired", "danger"),
        ("2027-03-03 08:00", "expired", "danger"),
    ],
)
def test_days_left_walk_down_to_expired(register, create_authentication, moment, text, colour):
    key = create_authentication(register("p256")).active_key()
    key.effective_expires_at = dt.datetime(2027, 3, 2, 12, 0, tzinfo=dt.UTC)
    now = dt.datetime.strptime(moment, "%Y-%m-%d %H:%M").replace(tzinfo=dt.UTC)
    with time_machine.travel(now, tick=False):
        context = days_left(key)
    from django.template.loader import render_to_string

    html = render_to_string("authentications/includes/days_left.html", context)
    assert text in html
    assert f"text-bg-{colour}" in html
