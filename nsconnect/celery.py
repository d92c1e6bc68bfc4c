"""The Celery app: the worker and beat read their configuration from Django's settings
(every `CELERY_*` name) and find the tasks in each installed app's tasks.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nsconnect.settings")

app = Celery("nsconnect")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
