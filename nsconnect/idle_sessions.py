"""Sessions that end after SESSION_COOKIE_AGE (NSCONNECT_SESSION_IDLE_MINUTES) without a request.

Django counts a session's age from its last save. SESSION_SAVE_EVERY_REQUEST would save on
every page and htmx request: a database write each, and a failed page whenever the database
is briefly locked. This middleware saves at most once a minute per session instead, so a
user is signed out between the idle limit less a minute and the idle limit after their last
request.
"""

from __future__ import annotations

import logging

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

logger = logging.getLogger(__name__)

# Epoch seconds of the session's last save by this middleware.
REFRESHED_AT = "nsconnect_refreshed_at"
REFRESH_EVERY_SECONDS = 60


class IdleSessionMiddleware(SessionMiddleware):
    """Django's SessionMiddleware, also saving a session in use (which moves its expiry and its
    cookie's on) when its last such save is a minute old."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        refresh_only = False
        # No cookie, no session to keep alive: anonymous requests and the token API stop here.
        if session is not None and session.session_key:
            # session_key is the cookie's value until the session is loaded: reading loads it
            # (an unknown or expired key then becomes None); only a signed-in session is kept alive.
            stored_at = session.get(REFRESHED_AT, 0)
            if session.session_key and SESSION_KEY in session:
                now = int(timezone.now().timestamp())
                # Also when the clock went back: the stored time is then no guide.
                if not 0 <= now - stored_at < REFRESH_EVERY_SECONDS:
                    refresh_only = not session.modified
                    session[REFRESHED_AT] = now
        try:
            return super().process_response(request, response)
        except SessionInterrupted:
            if not refresh_only:
                raise
            # Only the refresh failed (the database locked, the session just deleted): the
            # page itself is fine, and the next request tries again.
            logger.warning("The session's expiry could not be moved on; the next request tries again.")
            return response
