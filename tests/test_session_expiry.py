"""A session ends after NSCONNECT_SESSION_IDLE_MINUTES (8 hours) without a request, counted
again from every request (nsconnect/idle_sessions.py), and at browser close when
SESSION_EXPIRE_AT_BROWSER_CLOSE is on."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test.utils import CaptureQueriesContext

import nsconnect.settings

pytestmark = pytest.mark.django_db

SIGNED_IN_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIGN_IN = "/accounts/login/"


@pytest.fixture(autouse=True)
def _product_session_age(settings):
    """The idle limit nsconnect.settings made of the environment (none here: its default),
    whatever the rest of the suite uses."""
    settings.SESSION_COOKIE_AGE = nsconnect.settings.SESSION_COOKIE_AGE


def sign_in(client) -> None:
    response = client.post(SIGN_IN, {"username": "alice", "password": "x"})
    assert response.status_code == 302 and not response["Location"].startswith(SIGN_IN)


def is_signed_in(client) -> bool:
    response = client.get("/")
    if response.status_code == 302:
        assert response["Location"].startswith(SIGN_IN)
        return False
    assert response.status_code == 200
    return True


def test_a_user_idle_past_the_limit_is_sent_to_sign_in(client, alice):
    """GIVEN alice signed in WHEN she comes back 8 hours and a minute later
    THEN the dashboard sends her to sign in."""
    with time_machine.travel(SIGNED_IN_AT, tick=False) as traveller:
        sign_in(client)
        traveller.shift(timedelta(hours=8, minutes=1))

        assert not is_signed_in(client)


def test_a_user_active_within_the_limit_stays_signed_in_past_it(client, alice):
    """GIVEN alice signed in WHEN she uses a page every 7 hours THEN she is still signed in
    14 hours later (each request starts the count again), and signed out 8 hours after her last."""
    with time_machine.travel(SIGNED_IN_AT, tick=False) as traveller:
        sign_in(client)
        traveller.shift(timedelta(hours=7))
        assert is_signed_in(client)
        traveller.shift(timedelta(hours=7))
        assert is_signed_in(client)
        traveller.shift(timedelta(hours=8, minutes=1))

        assert not is_signed_in(client)


def test_the_idle_limit_is_configurable(client, alice, settings):
    """GIVEN a 30-minute idle limit WHEN alice waits 31 minutes THEN she signs in again."""
    settings.SESSION_COOKIE_AGE = 30 * 60
    with time_machine.travel(SIGNED_IN_AT, tick=False) as traveller:
        sign_in(client)
        traveller.shift(timedelta(minutes=29))
        assert is_signed_in(client)
        traveller.shift(timedelta(minutes=31))

        assert not is_signed_in(client)


def session_writes(queries: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in queries.captured_queries
        if "django_session" in query["sql"] and "UPDATE" in query["sql"]
    )


def test_requests_a_minute_apart_write_the_session_once_a_minute(client, alice):
    """GIVEN alice signed in WHEN she opens pages within a minute, then a minute later
    THEN only the page a minute later writes her session (so a page costs no database write)."""
    with time_machine.travel(SIGNED_IN_AT, tick=False) as traveller:
        sign_in(client)
        with CaptureQueriesContext(connection) as within_the_minute:
            for seconds in (10, 20, 30):
                traveller.move_to(SIGNED_IN_AT + timedelta(seconds=seconds))
                assert is_signed_in(client)
        traveller.move_to(SIGNED_IN_AT + timedelta(seconds=61))
        with CaptureQueriesContext(connection) as a_minute_later:
            assert is_signed_in(client)

    assert (session_writes(within_the_minute), session_writes(a_minute_later)) == (0, 1)


def test_a_refresh_that_cannot_be_saved_does_not_fail_the_page(client, alice, monkeypatch):
    """GIVEN alice signed in two minutes ago WHEN her session cannot be saved (the database
    locked, say) as her next page moves its expiry on THEN the page is still served."""

    def refuse(self, must_create=False):
        raise UpdateError

    with time_machine.travel(SIGNED_IN_AT, tick=False) as traveller:
        sign_in(client)
        traveller.shift(timedelta(minutes=2))
        monkeypatch.setattr(SessionStore, "save", refuse)

        assert is_signed_in(client)


@pytest.mark.parametrize("at_browser_close", [False, True])
def test_the_session_cookie_outlives_the_browser_only_when_asked(client, alice, settings, at_browser_close):
    """GIVEN SESSION_EXPIRE_AT_BROWSER_CLOSE WHEN alice signs in THEN her session cookie has no
    lifetime (the browser drops it when it closes) if it is on, and the idle limit if it is off;
    either way the server ends the session after the idle limit."""
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = at_browser_close
    with time_machine.travel(SIGNED_IN_AT, tick=False) as traveller:
        sign_in(client)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]

        if at_browser_close:
            assert (cookie["max-age"], cookie["expires"]) == ("", "")
        else:
            assert cookie["max-age"] == 8 * 60 * 60
        traveller.shift(timedelta(hours=8, minutes=1))
        assert not is_signed_in(client)


def test_the_environment_sets_the_idle_limit_and_browser_close(tmp_path):
    """GIVEN NSCONNECT_SESSION_IDLE_MINUTES=30 and SESSION_EXPIRE_AT_BROWSER_CLOSE=true in the
    environment WHEN the settings load THEN sessions last 30 idle minutes and end at browser close."""
    code = (
        "from django.conf import settings; "
        "print(settings.SESSION_COOKIE_AGE, settings.SESSION_EXPIRE_AT_BROWSER_CLOSE)"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTEST_VERSION": "test",  # keeps a developer's .env out
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "nsconnect.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": f"filesystem://{tmp_path / 'celery'}",
        "NSCONNECT_SESSION_IDLE_MINUTES": "30",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": "true",
    }
    process = subprocess.run(  # noqa: S603  (our own settings, fixed arguments)
        [sys.executable, "-c", code],
        env=environment,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert process.stdout.split() == ["1800", "True"], process.stderr


def test_a_made_up_session_cookie_writes_no_session():
    """GIVEN requests without signing in, each with a session cookie nobody issued, to a page
    that never loads the session (a missing static file) THEN no session row is written."""
    from django.contrib.sessions.models import Session
    from django.test import Client

    for number in range(5):
        client = Client()
        client.cookies["sessionid"] = f"madeup{number:026d}"
        client.get(f"/static/missing-{number}.css")
    assert Session.objects.count() == 0


def test_the_daily_task_deletes_sessions_past_their_idle_limit_and_keeps_live_ones(django_user_model):
    """GIVEN one user idle past the limit and one active WHEN the beat's daily task runs
    THEN only the idle user's session row is gone, and the active user is still signed in."""
    from django.contrib.sessions.models import Session
    from django.test import Client

    from authentications import tasks

    idle, active = Client(), Client()
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=9)):
        idle.force_login(django_user_model.objects.create_user("idle", password="x"))
    active.force_login(django_user_model.objects.create_user("active", password="x"))
    assert Session.objects.count() == 2

    assert tasks.clear_expired_sessions.apply().get() == "cleared"

    assert Session.objects.count() == 1
    assert active.get("/").status_code == 200
