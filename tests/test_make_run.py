"""`make run` starts the web server, a worker and a beat as three processes: a beat embedded
in the worker outlived a killed worker main process, kept sending, and made Ctrl-C hang."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def procfile(name: str) -> dict[str, str]:
    entries = {}
    for line in (Path(settings.BASE_DIR) / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            process, _, command = line.partition(":")
            entries[process.strip()] = command.strip()
    return entries


def test_make_run_starts_beat_as_its_own_process():
    """GIVEN Procfile.dev WHEN honcho starts it THEN web, worker and beat are separate
    processes, the worker has no embedded beat, and beat keeps its schedule under var/."""
    entries = procfile("Procfile.dev")

    assert set(entries) == {"web", "worker", "beat"}
    assert "--beat" not in entries["worker"].split() and " -B" not in f" {entries['worker']}"
    assert entries["beat"].startswith("celery -A nsconnect beat")
    assert "--schedule var/" in entries["beat"]


def test_production_runs_one_beat_of_its_own_too():
    """GIVEN the production Procfile THEN beat is a process of its own and no worker embeds one."""
    entries = procfile("Procfile")

    assert entries["beat"].startswith("celery -A nsconnect beat")
    assert "--beat" not in entries["worker"].split()
