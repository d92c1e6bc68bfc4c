"""The SQLite database and the filesystem broker's folders hold session keys and task
messages: only the user the app runs as may read them, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from django.conf import settings

# Loads the settings under a permissive umask, then writes through SQLite in WAL mode so
# that SQLite makes its -wal and -shm files too.
OPEN_THE_DATABASE = """
import os
os.umask(0o022)
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (id integer)")
    cursor.execute("INSERT INTO probe VALUES (1)")
    cursor.execute("SELECT count(*) FROM probe")
    assert cursor.fetchone()[0] >= 1
    import pathlib, stat
    name = connection.settings_dict["NAME"]
    for suffix in ("-wal", "-shm"):
        print(suffix, oct(stat.S_IMODE(pathlib.Path(name + suffix).stat().st_mode)))
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def open_the_database(env: dict[str, str]) -> str:
    process = subprocess.run(  # noqa: S603  (our own app, fixed arguments)
        [sys.executable, "-c", OPEN_THE_DATABASE],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr
    return process.stdout


def load_settings(env: dict[str, str]) -> None:
    process = subprocess.run(  # noqa: S603  (our own app, fixed arguments)
        [sys.executable, "-c", "import os; os.umask(0o022); import django; django.setup()"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 0, process.stderr


def app_env(**variables: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTEST_VERSION": os.environ.get("PYTEST_VERSION", "test"),
        "DJANGO_SETTINGS_MODULE": "nsconnect.settings",
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "NSCONNECT_ENCRYPTION_KEYS": os.environ["NSCONNECT_ENCRYPTION_KEYS"],
    }
    env.update(variables)
    return env


def test_a_database_and_broker_elsewhere_are_owner_only(tmp_path):
    """GIVEN a SQLite database and a filesystem broker named by URL, under a umask of 022
    WHEN the app loads and writes THEN the database, its -wal and -shm files are 0600 and the
    broker's folders 0700."""
    database = tmp_path / "nsconnect.sqlite3"
    broker = tmp_path / "celery"

    output = open_the_database(
        app_env(DATABASE_URL=f"sqlite:///{database}", CELERY_BROKER_URL=f"filesystem://{broker}")
    )

    assert mode(database) == 0o600
    assert "-wal 0o600" in output and "-shm 0o600" in output
    for folder in ("queue", "processed", "control"):
        assert mode(broker / folder) == 0o700


def test_the_default_var_folder_is_made_owner_only(tmp_path):
    """GIVEN var/, its database and its broker folders left readable by everyone (as before)
    WHEN the app loads with the defaults THEN var/ and the broker folders are 0700 and the
    database 0600."""
    var = Path(settings.BASE_DIR) / "var"
    database = var / "nsconnect.sqlite3"
    queue = var / "celery" / "queue"
    queue.mkdir(parents=True, exist_ok=True)
    database.touch()
    for path in (var, var / "celery", queue):
        path.chmod(0o755)
    database.chmod(0o644)

    # The default database and broker (not the CI's), only loaded: a developer's data stays as it is.
    load_settings(app_env())

    assert mode(var) == 0o700
    assert mode(var / "celery") == 0o700
    assert mode(queue) == 0o700
    assert mode(database) == 0o600
