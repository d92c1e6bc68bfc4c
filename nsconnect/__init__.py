"""The nsconnect project package. Loading the Celery app here makes `@shared_task`
bind to it in every process that loads Django (web, worker, beat, manage.py)."""

from __future__ import annotations

from nsconnect.celery import app as celery_app

__all__ = ["celery_app"]
