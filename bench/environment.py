"""What the bench modules share: Django set up in this process on a database and broker of
the bench's own (never the developer's), secrets made for the run, and the way back out."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_DATABASE = "nsconnect_bench"
POSTGRES_URL = f"postgres://postgres@127.0.0.1:5432/{POSTGRES_DATABASE}"
REDIS_URL = "redis://127.0.0.1:6379/14"


def postgres_url(database: str = POSTGRES_DATABASE) -> str:
    """A PostgreSQL database of the bench's own: modules that run at the same time as others
    (by hand, or by several people) take one each, so that none drops another's."""
    return f"postgres://postgres@127.0.0.1:5432/{database}"


def database_name(database_url: str) -> str:
    """The database a PostgreSQL URL names; only the bench's own (nsconnect_bench...) may be
    dropped and made here, never the developer's or CI's."""
    name = database_url.rsplit("/", 1)[-1].split("?", 1)[0]
    if not re.fullmatch(r"nsconnect_bench\w*", name):
        raise ValueError(f"{name!r} is not a bench database (nsconnect_bench...)")
    return name


def sqlite_url(name: str) -> str:
    return f"sqlite:///{BENCH_DIR / name}.sqlite3"


def filesystem_broker_url(name: str) -> str:
    return f"filesystem://{BENCH_DIR / name}-broker"


def set_up(database_url: str, broker_url: str, *, allowlist: list[str] | tuple[str, ...] = ()) -> None:
    """Point this process (and the workers and servers it starts) at the bench's own database
    and broker, migrate it, and set Django up. Call once, before importing any model."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "nsconnect.settings",
            "DEBUG": "false",
            "SECRET_KEY": Fernet.generate_key().decode() * 2,
            "NSCONNECT_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": "",
            "NSCONNECT_TOKEN_URL_ALLOWLIST": ",".join(allowlist),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMAIL_URL": "consolemail://",
        }
    )
    if database_url.startswith("postgres"):
        postgres_database(create=True, name=database_name(database_url))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def postgres_database(*, create: bool, name: str = POSTGRES_DATABASE) -> None:
    """Drop the bench's PostgreSQL database (whoever is still connected), and make it anew."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if create:
            admin.execute(f"CREATE DATABASE {name}")


def clean_up() -> None:
    """Leave nothing behind: the bench's database, broker messages and files."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        postgres_database(create=False, name=database_name(os.environ["DATABASE_URL"]))
    if os.environ.get("CELERY_BROKER_URL", "") == REDIS_URL:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    shutil.rmtree(BENCH_DIR, ignore_errors=True)


def clean_up_own(*files: str) -> None:
    """Leave nothing of one module behind and touch nobody else's: its PostgreSQL database or
    its SQLite file, and its own files in the bench folder. For modules that may run while
    another does (clean_up empties the whole bench folder and flushes the Redis database)."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith("postgres"):
        postgres_database(create=False, name=database_name(database_url))
    elif database_url.startswith("sqlite:///"):
        database = database_url.removeprefix("sqlite:///")
        files = (*files, database, f"{database}-wal", f"{database}-shm")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if broker.startswith("filesystem://"):
        files = (*files, broker.removeprefix("filesystem://"))
    for file in files:
        path = BENCH_DIR / file  # an absolute path stays as it is
        if not path.is_relative_to(BENCH_DIR):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def start(command: list[str], *, log: str) -> subprocess.Popen[bytes]:
    """A process of the product (worker, web server) with this process's environment."""
    output = (BENCH_DIR / f"{log}.log").open("wb")
    return subprocess.Popen(  # noqa: S603 - our own commands
        command, cwd=ROOT, env=os.environ.copy(), stdout=output, stderr=subprocess.STDOUT
    )


def start_worker(name: str) -> subprocess.Popen[bytes]:
    """The worker as Procfile starts it (prefork, one process per core), and wait until it answers."""
    from nsconnect.celery import app

    worker = start(
        [str(Path(sys.executable).parent / "celery"), "-A", "nsconnect", "worker", "--loglevel=warning"],
        log=name,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start: {(BENCH_DIR / f'{name}.log').read_text()[-2000:]}")
    return worker


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (a prefork worker's pool), in KiB."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    for one in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (a prefork worker's pool)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for one in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks
