"""The pages people open most, at 50 and at 5,000 authentications (with a token, an active key
and audit events each), then with 100,000 more audit events: SQL queries per page, which must
not grow, and the time, reported. The rows are made as tests/test_page_queries.py makes them."""

from __future__ import annotations

import time
from typing import Any

from bench import environment
from bench.table import Row

SIZES = (50, 5000)
EVENTS = 100_000
PAGES = [("/", "dashboard"), ("/authentications/", "authentication list"), ("/audit/", "audit trail")]


def run() -> list[Row]:
    environment.set_up(environment.sqlite_url("pages"), environment.filesystem_broker_url("pages"))
    from django.conf import settings
    from django.test.utils import override_settings

    # The manifest storage wants collectstatic; the pages are measured, not their assets.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    try:
        with override_settings(STORAGES=storages):
            return measure()
    finally:
        environment.clean_up()


def seed(start: int, stop: int) -> None:
    """Authentications number start to stop - 1, each with a key, a token and audit events
    (bench/memory.py makes its web process's rows with it)."""
    from tests import scale_seed

    scale_seed.authentications(start, stop)


def measure() -> list[Row]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tests import scale_seed

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "not-used-bench")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    # Each step adds rows to what the steps before made, then every page is sampled.
    steps = [
        (f"{SIZES[0]:,} authentications", lambda: scale_seed.authentications(0, SIZES[0])),
        (f"{SIZES[1]:,}", lambda: scale_seed.authentications(SIZES[0], SIZES[1])),
        (f"{SIZES[1]:,} and {EVENTS:,} more audit events", lambda: scale_seed.audit_events(EVENTS)),
    ]
    seen: dict[str, list[tuple[int, float, int]]] = {path: [] for path, _ in PAGES}
    for _, add in steps:
        add()
        for path, _ in PAGES:
            seen[path].append(sample(client, path))
    rows = []
    for path, name in PAGES:
        samples = seen[path]
        (first_q, first_t, _), (_, last_t, last_bytes) = samples[0], samples[-1]
        rows.append(
            Row(
                f"{name} ({path}), " + " then ".join(label for label, _ in steps),
                " then ".join(str(q) for q, _, _ in samples)
                + " queries; "
                + " then ".join(f"{t * 1000:.0f}" for _, t, _ in samples)
                + f" ms ({last_t / first_t:.1f}x), {last_bytes // 1024} KiB",
                "queries flat; time reported",
                all(q <= first_q for q, _, _ in samples),
            )
        )
    return rows


def sample(client: Any, path: str) -> tuple[int, float, int]:
    """The queries of one request to a page, its best time of three, and its size."""
    from django.db import connection

    client.get(path)  # warm: templates, caches
    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    # Counted as they run: the query log is emptied at each request's start.
    with connection.execute_wrapper(count):
        response = client.get(path)
    took = []
    for _ in range(3):
        started = time.perf_counter()
        client.get(path)
        took.append(time.perf_counter() - started)
    return len(statements), min(took), len(response.content)
