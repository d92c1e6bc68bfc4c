"""`make run` starts the web server, a worker and a beat as three processes: a beat embedded
in the worker outlived a killed worker main process, kept sending, and made Ctrl-C hang.
Under it, as everywhere else, an exported variable wins over the same one in .env."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from celery import Celery
from cryptography.fernet import Fernet
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


# What `make run` needs from the project, copied so that the run has a .env, a database and
# broker folders of its own, never the developer's.
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "var",
    "staticfiles",
    ".env",
    "__pycache__",
    ".*cache",
    ".hypothesis",
    "tests",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def filesystem_broker(folder: Path) -> Celery:
    """A Celery client on the filesystem broker the settings make of filesystem://<folder>."""
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }
    for path in options.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    # Not the current app: the suite's tasks must keep theirs.
    return Celery(broker="filesystem://localhost/", broker_transport_options=options, set_as_current=False)


def web_answer(url: str, deadline: float) -> int:
    """The status of the first answer the web server gives before the deadline."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  (our own server)
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # the server is not listening yet


# A worker reads a filesystem broker once a second (kombu's polling interval), so it answers a
# ping up to a second after it was sent, and the pinging side looks for the answer once a second
# too. A 0.5 s ping saw only the answers of pings sent in the right half of the worker's second;
# pinging two brokers for 0.5 s each kept step with that second, so every ping to the worker came
# in the wrong half and none was answered in 90 s. Three seconds leave two for a worker under load.
PING_SECONDS = 3.0


def broker_the_worker_listens_on(brokers: dict[str, Celery], deadline: float) -> str | None:
    """Which of the brokers a worker answers a ping on first, before the deadline."""
    while time.monotonic() < deadline:
        for name, broker in brokers.items():
            try:
                if broker.control.ping(timeout=PING_SECONDS, limit=1):
                    return name
            except ValueError:
                # kombu's filesystem transport can read a reply file the worker has made but
                # not yet written (JSONDecodeError): the worker answered, so ask again.
                continue
    return None


def stop(make: subprocess.Popen[bytes], log: Path) -> None:
    """Kill what honcho started, each a process group of its own whose id honcho logged, then
    end make and honcho (a session of their own) and wait for them. Killed, not stopped
    politely: only what they read at start matters here, and a worker's warm shutdown takes
    seconds."""
    for group in re.findall(r"started \(pid=(\d+)\)", log.read_text()):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(group), signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(make.pid, signal.SIGTERM)  # honcho finds its processes gone and exits
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        make.poll()  # reaped, or make would be counted in its group as a zombie
        try:
            os.killpg(make.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)  # no event tells when the last of them has gone
    else:
        os.killpg(make.pid, signal.SIGKILL)
    make.wait()


@pytest.fixture
def make_run_copy(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(settings.BASE_DIR, app, ignore=NOT_COPIED, symlinks=True)
    for shared in (".venv", "node_modules"):
        (app / shared).symlink_to(Path(settings.BASE_DIR) / shared)
    return app


def test_an_exported_variable_wins_over_dotenv_under_make_run(tmp_path, make_run_copy):
    """GIVEN a .env naming one allowed host and one broker WHEN `make run` starts with other values
    exported THEN the web server answers for the exported host and the worker listens on the
    exported broker: .env fills in only what the environment leaves unset, under make run too."""
    app, port = make_run_copy, free_port()
    dotenv_broker, exported_broker = tmp_path / "dotenv-broker", tmp_path / "exported-broker"
    (app / ".env").write_text(
        "DEBUG=true\n"
        "SECRET_KEY=make-run-test-only-secret-key\n"
        f"NSCONNECT_ENCRYPTION_KEYS={Fernet.generate_key().decode()}\n"
        "ALLOWED_HOSTS=dotenv.invalid\n"
        f"CELERY_BROKER_URL=filesystem://{dotenv_broker}\n"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CELERY_BROKER_URL": f"filesystem://{exported_broker}",
    }
    log = tmp_path / "make-run.log"
    with log.open("w") as output:
        make = subprocess.Popen(  # noqa: S603  (make, fixed arguments)
            ["make", "-o", "install", "run", f"PORT={port}"],  # noqa: S607  (make from PATH)
            cwd=app,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        status = web_answer(f"http://127.0.0.1:{port}/accounts/login/", deadline)
        brokers = {"exported": filesystem_broker(exported_broker), ".env": filesystem_broker(dotenv_broker)}
        worker_broker = broker_the_worker_listens_on(brokers, deadline)
    finally:
        stop(make, log)

    assert (status, worker_broker) == (200, "exported"), log.read_text()
