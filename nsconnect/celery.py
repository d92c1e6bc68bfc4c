"""The Celery app: the worker and beat read their configuration from Django's settings
(every `CELERY_*` name) and find the tasks in each installed app's tasks.py.

A worker or beat reads the settings as it starts, so it refuses to start, like the web app,
without the secrets production needs (nsconnect/settings.py); it also refuses when an
NSCONNECT_TOKEN_URL_ALLOWLIST entry is not an origin, or when the encryption keys cannot
read what is stored. (Read lazily: `python -m nsconnect.localenv`
imports this package to write the .env those settings need.)"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nsconnect.settings")

app = Celery("nsconnect")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def refuse_unsafe_start(sender: Any = None, **kwargs: Any) -> None:
    # Sent as a worker starts, after the Django fixup set Django up. Celery logs and
    # swallows what a receiver raises, but not SystemExit: that stops the worker.
    from django.core.exceptions import ImproperlyConfigured

    from authentications import checks

    try:
        checks.refuse_unsafe_start()
    except ImproperlyConfigured as problem:
        raise SystemExit(f"nsconnect worker refused to start: {problem}") from None


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_database_connections(sender: Any = None, **kwargs: Any) -> None:
    # What Django does around each request: a connection is closed only once it is broken or
    # older than CONN_MAX_AGE (CELERY_DB_REUSE_MAX stops the fixup closing it every time).
    # Not for a task applied in the caller's process: its connection is the caller's.
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
