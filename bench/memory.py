"""Resident memory after the runs: the worker as Procfile starts it (its main process and pool),
after 2,000 refreshes (bench.refresh leaves its figure in var/), and the web process as Procfile
starts it (gunicorn), after serving the dashboard, list and audit pages at 1,000 authentications."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import requests

from bench import environment
from bench.refresh import SCENARIOS
from bench.table import Row

PASSWORD = "bench-only-password-1"  # noqa: S105 - a user of the bench's own throwaway database


def run() -> list[Row]:
    rows = []
    for scenario, (label, _) in SCENARIOS.items():
        figure = environment.ROOT / "var" / f"bench-memory-{scenario}.json"
        if figure.exists():
            kib = json.loads(figure.read_text())["worker"]
            figure.unlink()
            rows.append(
                Row(f"worker RSS ({label}) after 2,000 refreshes", f"{kib / 1024:.0f} MiB", "reported", True)
            )
    rows.append(web_rss())
    return rows


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def web_rss() -> Row:
    import os

    os.environ.update(SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false")
    environment.set_up(environment.sqlite_url("memory"), environment.filesystem_broker_url("memory"))
    web = None
    static_root = environment.ROOT / "staticfiles"
    static_made = not static_root.exists()
    try:
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from bench import pages

        pages.seed(0, 1000)
        get_user_model().objects.create_superuser("bench", "bench@example.com", PASSWORD)
        call_command("collectstatic", "--no-input", verbosity=0)
        port = free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        web = environment.start([gunicorn, "nsconnect.wsgi", "--bind", f"127.0.0.1:{port}"], log="web")
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        deadline = time.monotonic() + 30
        while True:
            try:
                form = session.get(f"{base}/accounts/login/", timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        session.post(
            f"{base}/accounts/login/",
            data={
                "username": "bench",
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
        )
        served = 0
        for _ in range(10):
            for path in ("/", "/authentications/", "/audit/"):
                served += session.get(f"{base}{path}", timeout=30).status_code == 200
        kib = environment.rss_kb(web.pid)
        return Row(
            "web RSS (gunicorn as in Procfile, SQLite) after 30 page views at 1,000 authentications",
            f"{kib / 1024:.0f} MiB ({served} of 30 pages served)",
            "reported",
            served == 30,
        )
    finally:
        if web is not None:
            environment.stop(web)
        environment.clean_up()
        if static_made:  # collected for gunicorn here: leave no build artefact behind
            shutil.rmtree(static_root, ignore_errors=True)
