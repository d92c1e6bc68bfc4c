"""The beat schedule is data in settings: every entry must make sense on its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from nsconnect.celery import app

SCHEDULE: dict[str, dict[str, Any]] = settings.CELERY_BEAT_SCHEDULE


def seconds(schedule: float | timedelta) -> float:
    return schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)


def test_every_entry_expires_before_its_next_run():
    """GIVEN a worker that was down WHEN it comes back THEN missed runs have expired and do not pile up."""
    for name, entry in SCHEDULE.items():
        expires = entry["options"]["expires"]
        assert 0 < expires < seconds(entry["schedule"]), name


def test_the_sweep_runs_every_minute():
    entry = SCHEDULE["sweep-tokens"]
    assert entry["task"] == "authentications.tasks.sweep_tokens"
    assert seconds(entry["schedule"]) == 60


def test_every_entry_names_a_registered_task():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovers tasks.py
    for name, entry in SCHEDULE.items():
        assert entry["task"] in app.tasks, name


def test_the_app_reads_the_schedule_and_speaks_only_json():
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True


def test_unused_key_pairs_are_deleted_daily():
    entry = SCHEDULE["delete-unused-key-pairs"]
    assert entry["task"] == "authentications.tasks.delete_unused_key_pairs"
    assert seconds(entry["schedule"]) == 24 * 60 * 60
