"""nsconnect settings: every knob comes from the environment (see .env.example).

Defaults run the dashboard on one machine with no servers. With DEBUG off these
settings refuse to load without the secrets production needs, so gunicorn and
Celery stop too, not only manage.py; further checks live in authentications/checks.py.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import csp.constants
import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's .env must not change what the test suite sees: pytest sets
# PYTEST_VERSION before Django loads these settings.
if "PYTEST_VERSION" not in os.environ:
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

# Without SECRET_KEY each process would sign sessions with its own random key:
# users would be signed out whenever a request reached another gunicorn worker.
# Only DEBUG (make run, one process) may do without.
SECRET_KEY_FROM_ENV = bool(env.str("SECRET_KEY", default=""))
if not SECRET_KEY_FROM_ENV and not DEBUG:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set while DEBUG is off: set it in the environment to a long random value "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
SECRET_KEY = env.str("SECRET_KEY", default="") or get_random_secret_key()
# Earlier secret keys, still accepted for sessions, CSRF tokens and password-reset links while
# SECRET_KEY is replaced (README, "Rotating the Django secret key"); nothing stored depends on them.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    "axes",
    "authentications",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files need no policy; every page, error pages too, gets one.
    "csp.middleware.CSPMiddleware",
    # Django's SessionMiddleware, also moving a signed-in session's expiry on as it is used.
    "nsconnect.idle_sessions.IdleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "nsconnect.urls"
WSGI_APPLICATION = "nsconnect.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# var/ holds the default SQLite database and the filesystem broker's messages: session
# keys and task arguments. Only the user the app runs as may read them.
VAR_DIR = BASE_DIR / "var"


def _owner_only_folder(folder: Path) -> None:
    # mkdir's mode is filtered by the umask and leaves an existing folder as it is.
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def _owner_only_sqlite(database: Path) -> None:
    # Made before SQLite opens it: SQLite gives the -wal and -shm files it makes later
    # the database file's own permissions.
    if not database.parent.is_dir():
        return
    os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        if path.exists() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'nsconnect.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if Path(DATABASES["default"]["NAME"]).is_relative_to(VAR_DIR):
        _owner_only_folder(VAR_DIR)
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        _owner_only_sqlite(Path(DATABASES["default"]["NAME"]))
    # The web process and the worker share the file: writers queue (IMMEDIATE)
    # and wait (timeout) instead of failing with "database is locked"; WAL lets
    # readers go on meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so that tests can reach it from other processes.
    # One per test run, so that two runs at once do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-nsconnect-{os.getpid()}.sqlite3")}
else:
    # A server's connection costs milliseconds to open (a new process on PostgreSQL): keep it
    # a minute. A SQLite file opens in microseconds, and a kept one would hold its file across tests.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # Off by default: the check is a round trip before each request's first query (a quarter of
    # a millisecond here; the token API served a fifth more requests without it). Without it, a
    # connection the server dropped fails one request or task per process, then is replaced; the
    # token API reads again once on a new connection instead (api.views), so its consumers see no
    # failure either way.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django turns psycopg's prepared statements off (None); the few statements that
        # authentications.statements prepares need them on. Django's own cursors bind in the
        # client and never prepare, whatever this says. Off for a pooler that cannot keep them.
        prepared = env.bool("NSCONNECT_PREPARED_STATEMENTS", default=True)
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "prepare_threshold", 5 if prepared else None
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes), for the sign-in page and the admin's alike. Its
# backend comes first so that a locked-out sign-in never reaches the password check.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures counted per user from one address, and per address whatever the user: the
# first stops guessing one password, the second stops trying many users; neither lets
# someone elsewhere lock a user out. authentications/views/sign_in.py applies both limits.
NSCONNECT_SIGN_IN_FAILURES_PER_USER = env.int("NSCONNECT_SIGN_IN_FAILURES_PER_USER", default=5)
NSCONNECT_SIGN_IN_FAILURES_PER_ADDRESS = env.int("NSCONNECT_SIGN_IN_FAILURES_PER_ADDRESS", default=20)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_FAILURE_LIMIT = "authentications.views.sign_in.failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=env.int("NSCONNECT_SIGN_IN_COOLOFF_MINUTES", default=15))
# Axes' reset would clear every failure from the address of a successful sign-in, other
# users' too; authentications/views/sign_in.py clears only the signed-in user's own.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "authentications.views.sign_in.locked_out_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "authentications.views.sign_in.attempted_username"
# Masked wherever axes records a failed attempt's form: the password change's fields too.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "old_password", "new_password1", "new_password2"]
# Counted by the address the audit trail records (authentications/web.py): REMOTE_ADDR,
# or behind NSCONNECT_TRUSTED_PROXIES reverse proxies the address the outermost one saw.
# Without it, behind a proxy every client would share the proxy's address and one
# attacker's failures would pause everyone's sign-in.
NSCONNECT_TRUSTED_PROXIES = env.int("NSCONNECT_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "authentications.web.client_ip"
# Password reset pages, only offered when email really leaves the machine (SMTP), each
# request counted per address and per email address for an hour.
NSCONNECT_PASSWORD_RESETS_PER_ADDRESS = env.int("NSCONNECT_PASSWORD_RESETS_PER_ADDRESS", default=5)
NSCONNECT_PASSWORD_RESETS_PER_EMAIL = env.int("NSCONNECT_PASSWORD_RESETS_PER_EMAIL", default=3)
# Those counts live in the cache: each process's own memory by default; with several web
# processes set CACHE_URL (e.g. redis://host:6379/1) so that they share one count.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Third-party assets come straight from npm's node_modules: no CDN, no copies.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# A pasted 10 MB "key" must reach the form and get a message at its field,
# not a bare 400 from Django's 2.5 MB default.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=16 * 1024 * 1024)
# Every file nsconnect takes is PEM text of a few KB: keep at most 16 KiB of an upload in memory and
# count the rest, so a huge file is refused at its field without being spooled to disk first.
FILE_UPLOAD_HANDLERS = ["authentications.keys.pasted.CappedUploadHandler"]

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# HSTS is off until asked for: once a browser has seen it, that host is HTTPS-only there for
# SECURE_HSTS_SECONDS, and preload (a promise to browser vendors) is slow to take back.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# A session ends after this many minutes without a request (each request starts the count
# again: nsconnect/idle_sessions.py), and also when the browser closes if asked.
NSCONNECT_SESSION_IDLE_MINUTES = env.int("NSCONNECT_SESSION_IDLE_MINUTES", default=8 * 60)
SESSION_COOKIE_AGE = NSCONNECT_SESSION_IDLE_MINUTES * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)

# Content Security Policy (django-csp): scripts, styles and everything else only from our own
# static files, never inline, so injected markup cannot run; no framing (clickjacking), no
# plugins, no <base> to redirect relative URLs, forms post only to us. Bootstrap's CSS draws
# its select arrows and check marks as data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.constants.SELF],
        "script-src": [csp.constants.SELF],
        "style-src": [csp.constants.SELF],
        "img-src": [csp.constants.SELF, "data:"],
        "object-src": [csp.constants.NONE],
        "base-uri": [csp.constants.NONE],
        "form-action": [csp.constants.SELF],
        "frame-ancestors": [csp.constants.NONE],
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Error pages and error mails hide what is marked sensitive even with DEBUG on.
DEFAULT_EXCEPTION_REPORTER_FILTER = "nsconnect.error_reports.SecretsFilter"
DEFAULT_EXCEPTION_REPORTER = "nsconnect.error_reports.SecretsReporter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- nsconnect ---------------------------------------------------------------
# Fernet keys, comma separated: the first encrypts, every one decrypts, so a new
# key can be put first and the data re-encrypted (MultiFernet).
NSCONNECT_ENCRYPTION_KEYS = env.list("NSCONNECT_ENCRYPTION_KEYS", default=[])
if not NSCONNECT_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "NSCONNECT_ENCRYPTION_KEYS is not set while DEBUG is off: private keys and tokens cannot be "
        "encrypted. Set it to one or more Fernet keys, comma separated "
        "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
    )
for _position, _key in enumerate(NSCONNECT_ENCRYPTION_KEYS, start=1):
    try:
        Fernet(_key)
    except (ValueError, TypeError):
        # The position, never the value: this message reaches logs and terminals.
        raise ImproperlyConfigured(
            f"NSCONNECT_ENCRYPTION_KEYS entry {_position} is not a Fernet key "
            "(32 url-safe base64-encoded bytes)."
        ) from None
# Origins (scheme://host:port) admitted as token URLs besides NetSuite's own.
NSCONNECT_TOKEN_URL_ALLOWLIST = env.list("NSCONNECT_TOKEN_URL_ALLOWLIST", default=[])
NSCONNECT_HTTP_CONNECT_TIMEOUT = env.float("NSCONNECT_HTTP_CONNECT_TIMEOUT", default=5.0)
NSCONNECT_HTTP_READ_TIMEOUT = env.float("NSCONNECT_HTTP_READ_TIMEOUT", default=20.0)
# Scheduled refresh renews a token this many seconds before it expires.
NSCONNECT_REFRESH_MARGIN_SECONDS = env.int("NSCONNECT_REFRESH_MARGIN_SECONDS", default=600)
# The scheduled refresh keeps at most this many requests to NetSuite in flight from the
# worker, and at most NSCONNECT_ACCOUNT_CONCURRENCY to one NetSuite account (a token URL's
# host): NetSuite limits concurrent requests per account, and refuses what exceeds it.
NSCONNECT_NETSUITE_CONCURRENCY = env.int("NSCONNECT_NETSUITE_CONCURRENCY", default=32)
NSCONNECT_ACCOUNT_CONCURRENCY = env.int("NSCONNECT_ACCOUNT_CONCURRENCY", default=4)
if NSCONNECT_NETSUITE_CONCURRENCY < 1 or NSCONNECT_ACCOUNT_CONCURRENCY < 1:
    raise ImproperlyConfigured(
        "NSCONNECT_NETSUITE_CONCURRENCY and NSCONNECT_ACCOUNT_CONCURRENCY must be 1 or more."
    )
# Besides active staff with an address and each record's own list.
NSCONNECT_ALERT_EMAILS = env.list("NSCONNECT_ALERT_EMAILS", default=[])
# Where links in emails point.
NSCONNECT_BASE_URL = env.str("NSCONNECT_BASE_URL", default="http://127.0.0.1:8000")
# Days before a certificate's effective expiry when its recipients are mailed (and
# once more on the day itself). A non-number fails loudly here.
NSCONNECT_EXPIRY_ALERT_DAYS = env.list("NSCONNECT_EXPIRY_ALERT_DAYS", cast=int, default=[60, 30, 14, 7, 1])
# Token API requests each API client may make per minute; past it the API answers 429.
NSCONNECT_API_RATE_LIMIT = env.int("NSCONNECT_API_RATE_LIMIT", default=600)
# The token API counts requests (rate limit) and uses in the cache when every web process
# shares it (Redis, Memcached): no database write per request, so one API key's requests do
# not queue on its row. Otherwise (each process's own memory) they are counted in the database.
_SHARED_CACHES = ("RedisCache", "PyMemcacheCache", "PyLibMCCache")
NSCONNECT_API_COUNT_IN_CACHE = env.bool(
    "NSCONNECT_API_COUNT_IN_CACHE", default=CACHES["default"]["BACKEND"].rpartition(".")[2] in _SHARED_CACHES
)
# Counted in the cache, uses reach the database (the API client list) at most this many
# seconds late; the list page itself brings them up to date whenever it is shown.
NSCONNECT_API_USAGE_FLUSH_SECONDS = env.int("NSCONNECT_API_USAGE_FLUSH_SECONDS", default=10)
# Days a retired signing key is kept (encrypted) so it can be rolled back to; after
# them the daily wipe_retired_keys task empties its private key.
NSCONNECT_RETIRED_KEY_RETENTION_DAYS = env.int("NSCONNECT_RETIRED_KEY_RETENTION_DAYS", default=14)
# Days a generated key pair may wait for an authentication to take it; after them the
# daily delete_unused_key_pairs task deletes it, private key and all.
NSCONNECT_UNUSED_KEY_PAIR_DAYS = env.int("NSCONNECT_UNUSED_KEY_PAIR_DAYS", default=7)

# --- email ---------------------------------------------------------------------
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
if _email.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="nsconnect <nsconnect@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- celery ----------------------------------------------------------------------
# Redis or RabbitMQ in production. The default, kombu's filesystem transport, needs
# no server: messages are files under var/celery (or under the folder a
# filesystem:///absolute/path URL names).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem:"):
    _celery_folder = BASE_DIR / (CELERY_BROKER_URL.partition("://")[2] or "var/celery")
    _celery_queue = _celery_folder / "queue"
    # kombu silently ignores keys it does not know, so these names must be exact; the
    # control folder must be absolute or ping and broadcast break across processes.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_queue),
        "data_folder_out": str(_celery_queue),
        "processed_folder": str(_celery_folder / "processed"),
        "control_folder": str(_celery_folder / "control"),
        # kombu looks for new messages once a second unless told: two a second at most.
        "polling_interval": 0.1,
    }
    # Messages carry task arguments and control replies: owner-only, like the database. A
    # folder named by the URL is only made, never re-moded; the broker's own folders are.
    if _celery_folder.is_relative_to(VAR_DIR):
        _owner_only_folder(VAR_DIR)
        _owner_only_folder(_celery_folder)
    for _folder in ("queue", "processed", "control"):
        _owner_only_folder(_celery_folder / _folder)
# Tasks report a short status at most; nothing needs their results.
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection around every task, whatever
# CONN_MAX_AGE says, unless this is set; then nsconnect/celery.py closes only the broken or
# obsolete ones after each task, as Django does after each request.
CELERY_DB_REUSE_MAX = 1_000_000
# A refresh may wait out another holder's lease (HTTP timeouts + 10 s, see
# authentications/services/token_single_flight.py) and then make its own request: the soft limit leaves
# room for both; the hard one ends a task stuck past that.
_http_seconds = NSCONNECT_HTTP_CONNECT_TIMEOUT + NSCONNECT_HTTP_READ_TIMEOUT
CELERY_TASK_SOFT_TIME_LIMIT = int(2 * _http_seconds + 10 + 5)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 10
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A refresh caught by a broker outage finishes (its result is in the database, not the broker);
# set explicitly because Celery 6 changes this default, and so 5.x does not warn at each loss.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# One beat (its own process, under `make run` too) sends these; `expires` stays under
# each interval so runs missed while no worker was listening do not pile up.
CELERY_BEAT_SCHEDULE = {
    "sweep-tokens": {
        "task": "authentications.tasks.sweep_tokens",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Expiry alerts are counted in calendar days, so once a day is enough; a run
    # that happens twice sends nothing twice (authentications/services/expiry_notices.py).
    "check-certificates": {
        "task": "authentications.tasks.check_certificates",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 23 * 60 * 60},
    },
    # Retention is counted in days: a daily wipe is enough, and a key wiped twice is a no-op.
    "wipe-retired-keys": {
        "task": "authentications.tasks.wipe_retired_keys",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 23 * 60 * 60},
    },
    # Counted in days too; a key pair deleted twice is a no-op.
    "delete-unused-key-pairs": {
        "task": "authentications.tasks.delete_unused_key_pairs",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 23 * 60 * 60},
    },
    # Sessions past their idle limit can no longer be used, but Django keeps their rows.
    "clear-expired-sessions": {
        "task": "authentications.tasks.clear_expired_sessions",
        "schedule": 24 * 60 * 60.0,
        "options": {"expires": 23 * 60 * 60},
    },
}
