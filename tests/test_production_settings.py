"""Production refuses to start without its secrets, and with keys that cannot read what is
stored: the web app (gunicorn loads nsconnect.wsgi) and the worker (celery -A nsconnect),
not only manage.py. Each case starts a real process with an environment made for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

from authentications.checks import check_stored_secrets, stored_secrets_problem

MALFORMED_KEY = "not-a-fernet-key-but-a-secret-all-the-same"


def production_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """What a production process sees: DEBUG off, nothing inherited from the suite but PATH.
    PYTEST_VERSION keeps a developer's .env out (see settings); the database and broker are
    throwaway ones under tmp_path unless given."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTEST_VERSION": os.environ.get("PYTEST_VERSION", "test"),
        "DEBUG": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "CELERY_BROKER_URL": f"filesystem://{tmp_path / 'celery'}",
        "SECRET_KEY": "a-production-secret-key-for-this-test-only-0123456789",
        "NSCONNECT_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    env.update(variables)
    return {name: value for name, value in env.items() if value is not None and value != "<unset>"}


def start(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own app, fixed arguments)
        args, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=timeout
    )


def load_web_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return start([sys.executable, "-c", "import nsconnect.wsgi"], env)


def start_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # A worker that does start runs until the timeout: the test then fails on TimeoutExpired.
    return start(
        [sys.executable, "-m", "celery", "-A", "nsconnect", "worker", "--pool=solo", "--without-mingle"],
        env,
    )


@pytest.mark.parametrize("starts", [load_web_app, start_worker], ids=["web", "worker"])
def test_it_refuses_to_start_without_a_secret_key(tmp_path, starts):
    """GIVEN DEBUG off and no SECRET_KEY WHEN the web app or the worker starts
    THEN it stops at once, naming SECRET_KEY."""
    process = starts(production_env(tmp_path, SECRET_KEY="<unset>"))

    assert process.returncode != 0
    assert "SECRET_KEY is not set" in process.stderr


@pytest.mark.parametrize("starts", [load_web_app, start_worker], ids=["web", "worker"])
def test_it_refuses_to_start_without_encryption_keys(tmp_path, starts):
    """GIVEN DEBUG off and no NSCONNECT_ENCRYPTION_KEYS WHEN the web app or the worker starts
    THEN it stops at once, naming the variable."""
    process = starts(production_env(tmp_path, NSCONNECT_ENCRYPTION_KEYS="<unset>"))

    assert process.returncode != 0
    assert "NSCONNECT_ENCRYPTION_KEYS is not set" in process.stderr


def test_it_names_a_malformed_encryption_key_without_showing_it(tmp_path):
    """GIVEN a good key followed by a malformed one WHEN the web app starts
    THEN it stops, naming the variable and the entry, and the value appears nowhere."""
    good = Fernet.generate_key().decode()
    process = load_web_app(production_env(tmp_path, NSCONNECT_ENCRYPTION_KEYS=f"{good},{MALFORMED_KEY}"))

    assert process.returncode != 0
    assert "NSCONNECT_ENCRYPTION_KEYS entry 2 is not a Fernet key" in process.stderr
    assert MALFORMED_KEY not in process.stderr + process.stdout
    assert good not in process.stderr + process.stdout


@pytest.mark.parametrize("starts", [load_web_app, start_worker], ids=["web", "worker"])
def test_it_refuses_to_start_with_an_allowlist_entry_that_admits_nothing(tmp_path, starts):
    """GIVEN an NSCONNECT_TOKEN_URL_ALLOWLIST whose second entry is not an origin the allowlist
    can read (127.1 is 127.0.0.1 to a resolver, not to the allowlist)
    WHEN the web app or the worker starts THEN it stops, naming the variable and the entry."""
    allowlist = "http://127.0.0.1:8900,http://127.1:8900"
    process = starts(production_env(tmp_path, NSCONNECT_TOKEN_URL_ALLOWLIST=allowlist))

    assert process.returncode != 0
    assert "NSCONNECT_TOKEN_URL_ALLOWLIST entry 2 is not an origin" in process.stderr


def test_it_starts_with_its_secrets_on_a_database_not_yet_migrated(tmp_path):
    """GIVEN DEBUG off, a SECRET_KEY, a Fernet key and an empty database WHEN the web app loads
    THEN it loads."""
    process = load_web_app(production_env(tmp_path))

    assert process.returncode == 0, process.stderr


def test_debug_may_start_without_secrets(tmp_path):
    """GIVEN DEBUG on (make run's .env has it) and no secrets WHEN the web app loads THEN it loads."""
    process = load_web_app(
        production_env(tmp_path, DEBUG="true", SECRET_KEY="<unset>", NSCONNECT_ENCRYPTION_KEYS="<unset>")
    )

    assert process.returncode == 0, process.stderr


# The production environment README documents, besides the secrets production_env gives.
DOCUMENTED_PRODUCTION = {
    "ALLOWED_HOSTS": "nsconnect.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://nsconnect.example.com",
    "SECURE_PROXY_SSL_HEADER": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "NSCONNECT_TRUSTED_PROXIES": "1",
}


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return start([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_the_documented_production_environment_passes_check_deploy(tmp_path):
    """GIVEN the production environment README documents WHEN `check --deploy --fail-level WARNING`
    runs THEN it finds nothing."""
    process = check_deploy(production_env(tmp_path, **DOCUMENTED_PRODUCTION))

    assert process.returncode == 0, process.stderr
    assert "System check identified no issues" in process.stdout


@pytest.mark.parametrize(
    ("turned_off", "warnings"),
    [
        ({"SECURE_HSTS_SECONDS": "0", "SECURE_SSL_REDIRECT": "false"}, ["security.W004", "security.W008"]),
        # Django looks at these two only while HSTS is on.
        (
            {"SECURE_HSTS_INCLUDE_SUBDOMAINS": "false", "SECURE_HSTS_PRELOAD": "false"},
            ["security.W005", "security.W021"],
        ),
    ],
    ids=["hsts-and-redirect", "hsts-subdomains-and-preload"],
)
def test_check_deploy_fails_without_the_documented_protections(tmp_path, turned_off, warnings):
    """GIVEN the documented production environment with protections off WHEN `check --deploy
    --fail-level WARNING` runs THEN it fails, naming each protection's warning."""
    process = check_deploy(production_env(tmp_path, **{**DOCUMENTED_PRODUCTION, **turned_off}))

    assert process.returncode != 0
    for warning in warnings:
        assert warning in process.stderr


def database_url() -> str:
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("starts", [load_web_app, start_worker], ids=["web", "worker"])
def test_it_refuses_to_start_when_its_keys_cannot_read_what_is_stored(
    tmp_path, starts, register, create_authentication
):
    """GIVEN a private key stored under the suite's key WHEN the web app or the worker starts
    with another key THEN it stops, naming NSCONNECT_ENCRYPTION_KEYS."""
    create_authentication(register("p256"))
    other_key = Fernet.generate_key().decode()

    process = starts(
        production_env(tmp_path, DATABASE_URL=database_url(), NSCONNECT_ENCRYPTION_KEYS=other_key)
    )

    assert process.returncode != 0
    assert "cannot be decrypted with NSCONNECT_ENCRYPTION_KEYS" in process.stderr
    assert other_key not in process.stderr


@pytest.mark.django_db(transaction=True)
def test_the_web_app_starts_when_its_keys_read_what_is_stored(tmp_path, register, create_authentication):
    """GIVEN a private key stored under the suite's key WHEN the web app starts with that key
    (behind a new one, as while rotating) THEN it loads."""
    create_authentication(register("p256"))
    keys = ",".join([Fernet.generate_key().decode(), *settings.NSCONNECT_ENCRYPTION_KEYS])

    process = load_web_app(
        production_env(tmp_path, DATABASE_URL=database_url(), NSCONNECT_ENCRYPTION_KEYS=keys)
    )

    assert process.returncode == 0, process.stderr


@pytest.mark.django_db
def test_the_stored_secrets_check_names_the_variable_when_a_key_is_missing(
    settings, register, create_authentication
):
    """GIVEN a stored private key WHEN the keys no longer include the one that encrypted it
    THEN the check (run by migrate and `check --database`) names NSCONNECT_ENCRYPTION_KEYS."""
    create_authentication(register("p256"))
    assert stored_secrets_problem() is None
    assert check_stored_secrets(databases=["default"]) == []

    settings.NSCONNECT_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert "NSCONNECT_ENCRYPTION_KEYS" in (stored_secrets_problem() or "")
    assert [error.id for error in check_stored_secrets(databases=["default"])] == ["nsconnect.E005"]


@pytest.mark.django_db
def test_nothing_stored_yet_is_no_problem(settings):
    """GIVEN an empty database WHEN the keys are checked THEN there is nothing to refuse."""
    settings.NSCONNECT_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert stored_secrets_problem() is None
