"""WSGI entry point for gunicorn: loading it refuses to start when the settings lack
their secrets (nsconnect/settings.py), an NSCONNECT_TOKEN_URL_ALLOWLIST entry is not an
origin, or the encryption keys cannot read what is stored."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nsconnect.settings")

application = get_wsgi_application()

from authentications.checks import refuse_unsafe_start  # noqa: E402  (needs Django set up)

refuse_unsafe_start()
