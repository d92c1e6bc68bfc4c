"""The leak hunt's tools: what counts as a secret, where text was captured (log records, pages,
mails, broker messages, database rows and files), and a search that says where a secret was
found without printing it (tests/test_leak_hunt.py runs every flow and uses them)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import json
import logging
import re
import socket
import subprocess
import threading
import time
import traceback
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import redis
from cryptography.hazmat.primitives import serialization
from django.db import connection

# A run of the characters a secret is written in: base64 (both alphabets), JWTs, API keys.
# Line breaks and backslashes continue a run (and are dropped from it), so a PEM is one run
# whether its lines end in line breaks or in the two characters \n of a repr or JSON.
RUN = re.compile(r"[A-Za-z0-9+/=_.\-\\\r\n]+")
BREAKS = re.compile(r"\\[nr]|[\r\n\\]")
# Escapes of the characters of base64 in a URL-encoded text (a form body): + / = and line breaks.
URL_ESCAPES = re.compile(r"%(?:2[BbFf]|3[Dd]|0[AaDd])")
# Base64 that may wrap text: a Celery message body, a Django session, a mail part.
BASE64 = re.compile(r"\.?[A-Za-z0-9+/_\-]{40,}={0,2}")
# Findings shown for each kind of place (logs, pages, ...); the rest are counted.
PER_SOURCE = 4


@dataclass(frozen=True)
class Secret:
    """Something that must never be found. `text` is what is looked for: a PEM's base64 body,
    a token. With min_leak, any piece of it that long is a leak; with 0, only the whole text."""

    kind: str
    label: str
    text: str = field(repr=False)  # so that no failure message can print it
    min_leak: int = 40
    # Texts that are public, whose pieces are no secret though the secret holds them too.
    public: tuple[str, ...] = field(default=(), repr=False)

    def variants(self) -> set[str]:
        """A whole secret as it is written in a form body, JSON or HTML."""
        return {
            self.text,
            quote(self.text),
            quote_plus(self.text),
            json.dumps(self.text)[1:-1],
            html.escape(self.text),
        }


def private_key_secret(label: str, pem: str) -> Secret:
    """A private key: any 40-character piece of its base64 body (headers and lines dropped),
    but for the pieces that only encode its public key, which its certificate shows anyway
    (a PKCS#8 key holds its public key: an EC key its public point, an RSA key its modulus)."""
    body = "".join(
        line.strip() for line in pem.splitlines() if line.strip() and "-----" not in line and ":" not in line
    )
    public: tuple[str, ...] = ()
    if "ENCRYPTED" not in pem:
        key = serialization.load_pem_private_key(pem.encode(), None, unsafe_skip_rsa_key_validation=True)
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Base64 encodes three bytes at a time: the public key at each of the three alignments.
        public = tuple(base64.b64encode(b"\0" * shift + spki).decode() for shift in range(3))
    return Secret("private key", label, body, public=public)


@dataclass
class Haystack:
    """Captured text and where it came from. `allowed` names kinds of secret that belong there
    (the page that shows a new API key once, the API's answer that carries a token)."""

    source: str
    where: str
    text: str = field(repr=False)
    allowed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    secret: Secret
    haystack: Haystack
    line: int
    how: str  # "" as written, else how the text was decoded first
    context: str = field(repr=False)  # the text around it, as read: shown only through Search.masked


class Search:
    """Looks for many secrets at once in a lot of text.

    Each secret is cut into windows of `width` characters at every offset, and each run of
    secret-like characters in the text is sampled every `step` characters: a leaked piece of
    min_leak = width + step - 1 characters always contains a sampled window, so it is found
    in one set lookup per `step` characters of text."""

    def __init__(self, secrets: Iterable[Secret]) -> None:
        self.secrets = list(secrets)
        self.whole = [(variant, s) for s in self.secrets if s.min_leak == 0 for variant in s.variants()]
        self.tables: dict[tuple[int, int], dict[str, Secret]] = {}
        for secret in self.secrets:
            if secret.min_leak == 0:
                continue
            step = max(1, min(8, secret.min_leak // 4))
            width = secret.min_leak - step + 1
            public = {text[i : i + width] for text in secret.public for i in range(len(text) - width + 1)}
            table = self.tables.setdefault((step, width), {})
            for start in range(len(secret.text) - width + 1):
                window = secret.text[start : start + width]
                if window not in public:
                    table[window] = secret
        # Only runs long enough to hold a window, found by the regular expression engine alone.
        shortest = min((width for _, width in self.tables), default=1 << 16)
        self.runs = re.compile(f"{RUN.pattern[:-1]}{{{shortest},}}")

    def find(self, haystack: Haystack) -> list[Finding]:
        """Each secret found in the haystack, once, where it was first found."""
        found: dict[str, Finding] = {}
        for how, text, anchor in _readings(haystack.text):
            for position, secret in self._in(text):
                if secret.kind in haystack.allowed or secret.label in found:
                    continue
                at = position if anchor < 0 else anchor
                line = haystack.text.count("\n", 0, at) + 1
                context = text[max(0, position - 60) : position + 60]
                found[secret.label] = Finding(secret, haystack, line, how, context)
        return list(found.values())

    def _in(self, text: str, every: bool = False) -> Iterator[tuple[int, Secret]]:
        for variant, whole in self.whole:
            position = text.find(variant)
            if position >= 0:
                yield position, whole
        for match in self.runs.finditer(text):
            run = match.group()
            flat = BREAKS.sub("", run) if "\\" in run or "\n" in run or "\r" in run else run
            for (step, width), table in self.tables.items():
                for start in range(0, len(flat) - width + 1, 1 if every else step):
                    secret = table.get(flat[start : start + width])
                    if secret is not None:
                        yield match.start() + start, secret

    def masked(self, text: str, *, excerpt: bool = False) -> str:
        """Text fit for a failure message: every run that holds a piece of a secret, and in an
        excerpt every run cut at its ends (the rest is not there to check), shown by its length."""
        for variant, secret in self.whole:
            text = text.replace(variant, f"[the {secret.kind}]")

        def mask(match: re.Match[str]) -> str:
            run = match.group()
            cut = excerpt and (match.start() == 0 or match.end() == len(text)) and len(run) >= 8
            if cut or next(self._in(run, every=True), None) is not None:
                return f"[{len(run)} characters]"
            return run

        return RUN.sub(mask, text)

    def describe(self, finding: Finding) -> str:
        decoded = f", {finding.how}" if finding.how else ""
        return (
            f"{finding.secret.label}: {self.masked(finding.haystack.where)} (line {finding.line}{decoded});"
            f" around it: {self.masked(finding.context, excerpt=True)!r}"
        )

    def report(self, haystacks: Iterable[Haystack]) -> str:
        """What was found where, a few lines per kind of place; empty when nothing leaked."""
        by_source: dict[str, list[Finding]] = {}
        for haystack in haystacks:
            for finding in self.find(haystack):
                by_source.setdefault(haystack.source, []).append(finding)
        if not by_source:
            return ""
        total = sum(len(findings) for findings in by_source.values())
        counts = ", ".join(f"{source} {len(findings)}" for source, findings in by_source.items())
        lines = [f"{total} secrets found ({counts}):"]
        for source, findings in by_source.items():
            lines.append(f"in {source}:")
            lines += [f"  {self.describe(finding)}" for finding in findings[:PER_SOURCE]]
            if len(findings) > PER_SOURCE:
                lines.append(f"  ... and {len(findings) - PER_SOURCE} more in {source}")
        return "\n".join(lines)


def _readings(text: str) -> Iterator[tuple[str, str, int]]:
    """The text as written, URL-decoded (a form body), and every base64 run in it decoded to
    text (a Celery message body, a signed cookie): (how it was read, the text read, and where
    in the captured text it starts, -1 when positions match it)."""
    yield "", text, -1
    if URL_ESCAPES.search(text):
        yield "URL-decoded", unquote(text), -1
    for match in BASE64.finditer(text):
        decoded = _base64_text(match.group())
        if decoded:
            yield f"base64-decoded from character {match.start()}", decoded, match.start()


def _base64_text(run: str) -> str | None:
    """The text a base64 run encodes, if it encodes text; zlib-compressed text too (Django's
    signed cookies and sessions compress what they sign)."""
    data = run.lstrip(".").rstrip("=")
    data += "=" * (-len(data) % 4)
    try:
        raw = base64.urlsafe_b64decode(data) if "-" in data or "_" in data else base64.b64decode(data)
    except (binascii.Error, ValueError):
        return None
    with contextlib.suppress(zlib.error):
        raw = zlib.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


# --- what was captured -----------------------------------------------------------------------


_STANDARD_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def brief_traceback(error: BaseException) -> str:
    """Frames (file, line, function) and the message of an error and of those it was raised from;
    no source lines, which hold no values and cost the most to read."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines = ["Traceback (most recent call last):"]
        for frame, line in traceback.walk_tb(current.__traceback__):
            lines.append(f'  File "{frame.f_code.co_filename}", line {line}, in {frame.f_code.co_name}')
        try:
            message = str(current)
        except Exception:  # an error whose message cannot be made
            message = "<no message>"
        lines.append(f"{type(current).__module__}.{type(current).__qualname__}: {message}")
        parts.insert(0, "\n".join(lines))
        current = current.__cause__ or current.__context__
    return "\n\nDuring handling of the above exception, another exception occurred:\n\n".join(parts)


class LogCapture(logging.Handler):
    """Every record at any level, with its arguments, traceback and extra fields (Django's
    SQL log carries the query's parameters there): what any handler could write out."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: its parts, then
            message = f"{record.msg!r} % {record.args!r}"
        parts = [message]
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Set on the record, where logging's formatters (caplog's too) take it instead of
            # formatting their own: Django logs every failed template lookup at DEBUG with its
            # traceback, and Python's full format (source carets) would take seconds here.
            record.exc_text = brief_traceback(record.exc_info[1])
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
        extra = {name: value for name, value in vars(record).items() if name not in _STANDARD_RECORD_FIELDS}
        if extra:
            parts.append(repr(extra))
        number = len(self.lines) + 1
        where = f"log record {number} of {record.name} at {record.levelname}, template {record.msg!r}"
        self.lines.append((where[:300], "\n".join(parts)))

    def haystacks(self) -> list[Haystack]:
        return [Haystack("logs", where, text) for where, text in self.lines]


@dataclass
class LoggingAtDebug:
    """Every logger at DEBUG and a LogCapture on the root logger and on any logger that does
    not pass its records up; undone by restore()."""

    capture: LogCapture = field(default_factory=LogCapture)
    _levels: dict[logging.Logger, int] = field(default_factory=dict)
    _attached: list[logging.Logger] = field(default_factory=list)

    def start(self, names: Iterable[str]) -> None:
        root = logging.getLogger()
        loggers = [root, *(logging.getLogger(name) for name in names)]
        loggers += [item for item in root.manager.loggerDict.values() if isinstance(item, logging.Logger)]
        for logger in loggers:
            self._levels.setdefault(logger, logger.level)
            logger.setLevel(logging.DEBUG)
            if logger is root or not logger.propagate:
                # First, so that the other handlers (caplog's) see what it sets on a record.
                logger.handlers.insert(0, self.capture)
                self._attached.append(logger)

    def restore(self) -> None:
        for logger in self._attached:
            logger.removeHandler(self.capture)
        for logger, level in self._levels.items():
            logger.setLevel(level)


class RedisMonitor:
    """Every command the Redis server is sent while it runs, as MONITOR reports it: messages
    published, taken and acknowledged by a worker, and results stored, as they travel."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.buffer = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> None:
        parts = urlsplit(self.url)
        sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=5)
        if parts.password:
            user = f" {parts.username}" if parts.username else ""
            sock.sendall(f"AUTH{user} {unquote(parts.password)}\r\n".encode())
            if not sock.recv(1024).startswith(b"+OK"):
                raise RuntimeError("Redis refused the password of CELERY_TEST_BROKER_URL")
        sock.sendall(b"MONITOR\r\n")
        sock.settimeout(0.2)
        self._socket = sock
        self._thread = threading.Thread(target=self._read, name="redis-monitor", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._socket is not None
        while not self._stop.is_set():
            try:
                chunk = self._socket.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            self.buffer += chunk

    def stop(self, timeout: float = 10) -> None:
        """Stop once the server has reported everything sent before this call: a marker command
        is sent and awaited on the monitor."""
        marker = f"leak-hunt-end-{uuid.uuid4().hex}"
        redis.Redis.from_url(self.url).echo(marker)
        deadline = time.monotonic() + timeout
        while marker.encode() not in self.buffer and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        if marker.encode() not in self.buffer:
            raise AssertionError(f"the Redis monitor did not report its end marker within {timeout} s")

    def haystacks(self) -> list[Haystack]:
        # MONITOR quotes each argument and escapes the quotes inside: unescaped, a message is JSON.
        text = self.buffer.decode("utf-8", "replace")
        return [
            Haystack("broker (Redis)", "commands seen by MONITOR", text),
            Haystack(
                "broker (Redis)", "commands seen by MONITOR, quotes unescaped", text.replace('\\"', '"')
            ),
        ]


def redis_keys(url: str) -> list[Haystack]:
    """Every key of the broker's Redis database and its value: queues, unacked messages, results."""
    client = redis.Redis.from_url(url)
    readers: dict[str, Callable[[bytes], Any]] = {
        "string": client.get,
        "list": lambda key: client.lrange(key, 0, -1),
        "hash": client.hgetall,
        "set": client.smembers,
        "zset": lambda key: client.zrange(key, 0, -1, withscores=True),
    }
    haystacks = []
    for key in client.scan_iter(count=500):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        reader = readers.get(kind)
        value = reader(key) if reader else None
        name = key.decode("utf-8", "replace")
        haystacks.append(Haystack("broker (Redis)", f"key {name} ({kind})", f"{name} {value!r}"))
    return haystacks


def files_under(folder: Path, source: str) -> list[Haystack]:
    return [
        Haystack(source, f"file {path.relative_to(folder)}", path.read_bytes().decode("utf-8", "replace"))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


def database_rows() -> list[Haystack]:
    """Every row of every table, as text: on PostgreSQL each row cast to text, elsewhere its values."""
    haystacks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            if connection.vendor == "postgresql":
                cursor.execute(f"SELECT t::text FROM {quoted} t")  # noqa: S608 (names from the schema)
            else:
                cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 (names from the schema)
            rows = "\n".join(repr(row) for row in cursor.fetchall())
            haystacks.append(Haystack("database", f"table {table}", rows))
    return haystacks


def database_files() -> list[Haystack]:
    """SQLite's file and its write-ahead log, byte for byte (a deleted row's bytes stay in free
    pages); nothing on other databases, whose files are the server's."""
    if connection.vendor != "sqlite":
        return []
    name = str(connection.settings_dict["NAME"])
    paths = [Path(name), Path(f"{name}-wal"), Path(f"{name}-shm")]
    return [
        Haystack("database", f"file {path.name}", bytes_read_elsewhere(path).decode("latin-1"))
        for path in paths
        if path.is_file()
    ]


def bytes_read_elsewhere(path: Path) -> bytes:
    """A file's bytes, read by a child process. Read here, closing the file would drop every
    lock this process holds on it (POSIX record locks belong to the process, not to the open
    file): the suite's SQLite connections would stay open but unlocked, the next process to
    close the database would believe itself the last, checkpoint and delete the write-ahead log,
    and every later query here failed with "disk I/O error"."""
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout  # noqa: S603, S607


def mails(outbox: Iterable[Any], source: str = "mail") -> list[Haystack]:
    haystacks = []
    for number, message in enumerate(outbox, start=1):
        alternatives = "\n".join(str(content) for content, _ in getattr(message, "alternatives", []))
        text = "\n".join([message.subject, message.body, alternatives, message.message().as_string()])
        where = f"mail {number} {message.subject!r} to {', '.join(message.to)}"
        haystacks.append(Haystack(source, where, text))
    return haystacks


def audit_events(events: Iterable[Any]) -> list[Haystack]:
    return [
        Haystack(
            "audit trail",
            f"event {event.pk} {event.action} by {event.actor_label}",
            f"{event.authentication_name} {event.ip_address} {json.dumps(event.details)}",
        )
        for event in events
    ]
