"""A fake NetSuite OAuth 2.0 client-credentials token endpoint on a real local server.

It verifies client assertions with jwcrypto (the product writes its JWS as PyJWT does) by the rules
of NETSUITE.md sections 1-3, scripts failures for the product's tests, serves HTTPS with a
certificate of its own when asked (FakeNetSuite(tls=True): trusted only by a client told to
trust certificate_file), and runs by hand as a sandbox with no NetSuite account:
``python -m tests.fake_netsuite --help``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import ipaddress
import json
import os
import re
import secrets
import select
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jws

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"  # noqa: S105 - a URL path
RECORD_PATH = "/services/rest/record/v1/"
# NETSUITE.md section 5: list and add on .../certificates, revoke on .../<CertificateID>/revoke.
CERTIFICATES_ROUTE = re.compile(
    r"^/services/rest/auth/oauth2/v1/clients/([^/?]+)/certificates(?:/([^/?]+)/revoke)?$"
)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM_FIELDS = frozenset({"grant_type", "client_assertion_type", "client_assertion"})
KNOWN_SCOPES = frozenset({"restlets", "rest_webservices", "suite_analytics", "mcp"})
DEFAULT_SCOPES = ("restlets", "rest_webservices", "suite_analytics")
# alg -> (kty, crv) its key must have
ALG_KEYS: dict[str, tuple[str, str | None]] = {f"PS{bits}": ("RSA", None) for bits in (256, 384, 512)}
ALG_KEYS |= {"ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521")}
MAX_BODY = 1 << 20
HUGE_SIZE = 5 * 1024 * 1024
# "huge_stream" promises and streams this much, a chunk at a time: never held in memory.
HUGE_STREAM_SIZE = 100 * 1024 * 1024
STREAM_CHUNK = 64 * 1024
# "gzip_bomb": this many gzip members of 1 MiB each, about 1 KB each on the wire, so the whole
# answer (about 62 KB) stays under a 64 KB cap on wire bytes and is 60 MiB once decoded.
GZIP_BOMB_MEMBERS = 60
TIMEOUT_SLEEP = 3.0
JSON, HTML = "application/json", "text/html; charset=utf-8"

_Canned = tuple[int, str, bytes, dict[str, str], str | None]


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


def _oauth(status: int, code: str, headers: dict[str, str] | None = None) -> _Canned:
    return status, JSON, _json({"error": code}), headers or {}, code


def _html(status: int, title: str) -> _Canned:
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body>"
    return status, HTML, page.encode() + b"</html>", {}, None


# kind -> (status, content type, body, extra headers, error code to record)
_SCRIPTED: dict[str, _Canned] = {
    "invalid_client": _oauth(401, "invalid_client"),
    "invalid_scope": _oauth(400, "invalid_scope"),
    "invalid_request": _oauth(400, "invalid_request"),
    "invalid_grant": _oauth(400, "invalid_grant"),
    "server_error": _oauth(500, "server_error"),
    "bad_gateway": _html(502, "502 Bad Gateway"),
    "service_unavailable": _html(503, "503 Service Unavailable"),
    "gateway_timeout": _html(504, "504 Gateway Timeout"),
    "rate_limited": _oauth(429, "rate_limited"),  # with Retry-After: retry_after (120 s)
    "rate_limited_no_retry_after": _oauth(429, "rate_limited"),
    "internal_error_json": (500, JSON, _json({"title": "Internal Server Error", "status": 500}), {}, None),
    "internal_error_html": _html(500, "500 Internal Server Error"),
    "not_json": (200, HTML, b"<html><body>Maintenance</body></html>", {}, None),
    "no_token": (200, JSON, b'{"token_type": "Bearer", "expires_in": 3600}', {}, None),
    "redirect": (302, HTML, b"", {"Location": "http://127.0.0.1:9/elsewhere"}, None),
}
# Answers broken on the wire, as networks, proxies and overloaded servers break them:
# "truncated" promises 1000 bytes, sends 21 and closes; "reset_mid_body" sends 21 and resets;
# "trickle" sends the body a byte every trickle_seconds, "trickle_headers" the whole answer so;
# "never_ends" sends 21 of 1000 bytes and then nothing; "bad_gzip" says gzip and is not.
TRANSPORT_FAULTS = frozenset(
    {"truncated", "reset_mid_body", "trickle", "trickle_headers", "never_ends", "bad_gzip"}
)
# "huge" sends 5 MB at once; "huge_stream" streams HUGE_STREAM_SIZE, counting in streamed_bytes
# what the client let through; "gzip_bomb" sends GZIP_BOMB_MEMBERS MiB compressed into ~62 KB.
FAILURE_KINDS = frozenset(_SCRIPTED) | {"timeout", "huge", "huge_stream", "gzip_bomb"} | TRANSPORT_FAULTS
# Where fail_next(on=...) applies: the token endpoint takes every kind, the others the faults.
FAULT_PLACES = ("token", "record", "certificates")
CUT_AFTER = 21


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]
    jose_header: dict | None = None
    claims: dict | None = None
    status: int = 200
    error: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Mapping:
    consumer_key: str
    key: jwk.JWK
    scopes: frozenset[str]


class _Reject(Exception):
    def __init__(self, status: int, error: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.error = status, error


def _client(reason: str) -> _Reject:
    return _Reject(401, "invalid_client", reason)


def _bad_request(reason: str) -> _Reject:
    return _Reject(400, "invalid_request", reason)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' connection pool expects
    # Headers and body leave in separate writes: with Nagle on, the body waited for the
    # client's delayed ACK, about 44 ms on every keep-alive answer, and every latency measured.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests stay quiet; the CLI prints its own line per request

    def _serve(self) -> None:
        fake = self.server.fake
        self._gauges: tuple[InFlight, ...] = (fake.in_flight, *((fake.gauge,) if fake.gauge else ()))
        for gauge in self._gauges:
            gauge.enter()
        try:
            fake._handle(self)
        finally:
            self.answering()

    def answering(self) -> None:
        """The request is no longer in flight: called as its answer starts to leave, since the
        client may send its next request as soon as it has the answer, before this thread
        would get back here (the benchmark once counted 33 in flight of 32 so)."""
        for gauge in self._gauges:
            gauge.leave()
        self._gauges = ()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class InFlight:
    """How many requests are being answered now, and the most at once: one fake's, or several
    fakes' together (one gauge handed to each, as the benchmark's accounts share one)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a scripted "timeout" to wake up
    request_queue_size = 128  # the default backlog of 5 resets bursts of connections

    def __init__(self, address: tuple[str, int], fake: FakeNetSuite) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


_Raw = tuple[int, str, bytes, dict[str, str]]  # status, content type, body, extra headers


@cache
def _gzip_member() -> bytes:
    # 1 MiB of one letter compresses to about 1 KB: the ratio deflate allows at most.
    return gzip.compress(b"a" * (1 << 20), compresslevel=9)


def self_signed_files(hosts: list[str], folder: str) -> tuple[str, str]:
    """A certificate for `hosts` (IP addresses or DNS names, "*.example.com" too) signed by
    its own key, as files in `folder`: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    alts: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alts.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alts.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alts), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = f"{folder}/cert.pem", f"{folder}/key.pem"
    Path(cert_file).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    Path(key_file).write_bytes(key_pem)
    return cert_file, key_file


class FakeNetSuite:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, tls: bool = False, gauge: InFlight | None = None
    ) -> None:
        self._host, self._port = host, port
        # Requests being answered by this fake (in_flight), and by a group of fakes (gauge).
        self.in_flight = InFlight()
        self.gauge = gauge
        # tls=True: HTTPS with a self-signed certificate (made at start, in a temporary folder):
        # untrusted unless the client is told to trust certificate_file.
        self._tls = tls
        self._tls_folder: tempfile.TemporaryDirectory[str] | None = None
        self._certificate_file = ""
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None
        self._mappings: dict[str, _Mapping] = {}
        self._revoked: set[str] = set()
        self._failures: deque[str] = deque()
        # What breaks the next answers of the REST record service and the certificate endpoint:
        # a TRANSPORT_FAULTS kind, or an answer given as is (answer_next).
        self._faults: dict[str, deque[str | _Raw]] = {"record": deque(), "certificates": deque()}
        self._stopping = threading.Event()
        self._echo = False
        self.delay: float = 0
        # "trickle" and "trickle_headers" send one byte per this many seconds.
        self.trickle_seconds: float = 1.0
        # The Retry-After header of "rate_limited": seconds or an HTTP date.
        self.retry_after: str = "120"
        # "huge_stream": how many body bytes the client let through before it hung up, and set
        # once the stream is over (sent whole, or cut off by the client).
        self.streamed_bytes = 0
        self.stream_finished = threading.Event()
        self.expires_in: str | int = "3600"
        self.token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret
        # True sets a routing cookie on every answer, as NetSuite does.
        self.set_cookie = False
        # False plays a role without "Log in using OAuth 2.0 Access Tokens".
        self.role_can_use_tokens = True
        self.requests: list[RecordedRequest] = []
        self.issued_tokens: list[str] = []
        # token -> (consumer key, scopes) it was issued for: the certificate endpoint checks both.
        self._grants: dict[str, tuple[str, frozenset[str]]] = {}
        # certificate id -> what the certificate endpoint knows of it (role, entity, ...).
        self._certificates: dict[str, dict[str, Any]] = {}
        self._certificate_answers: deque[tuple[int, str, bytes]] = deque()
        # Raw answers of the token endpoint, scripted by answer_token_next: hostile bodies.
        self._token_answers: deque[_Raw] = deque()

    def start(self) -> Self:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server((self._host, self._port), self)
            if self._tls:
                self._server.socket = self._tls_context().wrap_socket(self._server.socket, server_side=True)
            self._address = (self._host, self._server.server_address[1])
            # A short poll interval: stop() waits for it, and tests start and stop fakes often.
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fake-netsuite", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._stopping.set()  # wakes answers that trickle or never end
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        if self._tls_folder is not None:
            self._tls_folder.cleanup()
            self._tls_folder, self._certificate_file = None, ""

    def _tls_context(self) -> ssl.SSLContext:
        self._tls_folder = tempfile.TemporaryDirectory(prefix="fake-netsuite-tls-")
        self._certificate_file, key_file = self_signed_files([self._host], self._tls_folder.name)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._certificate_file, key_file)
        return context

    @property
    def certificate_file(self) -> str:
        """The PEM file of this fake's own certificate (tls=True, started): what a client must trust."""
        if not self._certificate_file:
            raise RuntimeError("FakeNetSuite serves HTTPS only with tls=True, once started")
        return self._certificate_file

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        if self._address is None:
            raise RuntimeError("FakeNetSuite is not started: call start() first")
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._address[0]}:{self._address[1]}"

    @property
    def token_url(self) -> str:
        return self.origin + TOKEN_PATH

    def register(
        self,
        *,
        consumer_key: str,
        certificate_id: str,
        certificate_pem: str,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> None:
        if "-----BEGIN CERTIFICATE-----" not in certificate_pem:
            raise ValueError("NetSuite takes an X.509 certificate, not a bare key")
        wanted = frozenset(scopes.split(",") if isinstance(scopes, str) else scopes)
        if not wanted <= KNOWN_SCOPES:
            raise ValueError(f"unknown scopes {sorted(wanted - KNOWN_SCOPES)}")
        key = jwk.JWK.from_pem(certificate_pem.encode())
        with self._lock:
            self._mappings[certificate_id] = _Mapping(consumer_key, key, wanted)
            self._revoked.discard(certificate_id)

    def revoke(self, certificate_id: str) -> None:
        with self._lock:
            self._revoked.add(certificate_id)

    def answer_certificates_next(self, status: int, body: bytes | object, ctype: str = JSON) -> None:
        """Script the next answer of the certificate endpoint (its bodies are undocumented)."""
        raw = body if isinstance(body, bytes) else _json(body)
        with self._lock:
            self._certificate_answers.append((status, ctype, raw))

    def answer_token_next(
        self, status: int, body: bytes | object, ctype: str = JSON, headers: dict[str, str] | None = None
    ) -> None:
        """Script the next answer of the token endpoint as it is (after the assertion is judged
        and recorded): a body no real NetSuite sends, such as a token with a line break in it."""
        self.answer_next(status, body, ctype, headers, on="token")

    def answer_next(
        self,
        status: int,
        body: bytes | object,
        ctype: str = JSON,
        headers: dict[str, str] | None = None,
        *,
        on: str = "token",
    ) -> None:
        """Answer the next request at `on` (see FAULT_PLACES) exactly so, whatever it asks: a
        redirect elsewhere, say. The token endpoint still judges and records the assertion first."""
        if on not in FAULT_PLACES:
            raise ValueError(f"unknown place {on!r}; one of {FAULT_PLACES}")
        raw = (status, ctype, body if isinstance(body, bytes) else _json(body), dict(headers or {}))
        with self._lock:
            (self._token_answers if on == "token" else self._faults[on]).append(raw)

    def fail_next(self, kind: str, times: int = 1, *, on: str = "token") -> None:
        """Script the next answers of the token endpoint (on="token"), or break the next answers of
        the REST record service (on="record") or the certificate endpoint (on="certificates")."""
        kinds = FAILURE_KINDS if on == "token" else TRANSPORT_FAULTS
        if on not in FAULT_PLACES or kind not in kinds:
            raise ValueError(
                f"unknown kind {kind!r} or place {on!r}; one of {sorted(kinds)} on {FAULT_PLACES}"
            )
        with self._lock:
            (self._failures if on == "token" else self._faults[on]).extend([kind] * times)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.issued_tokens.clear()
            self._grants.clear()
            self._certificate_answers.clear()
            self._token_answers.clear()
            self._failures.clear()
            for faults in self._faults.values():
                faults.clear()
            self.delay = 0
            self.trickle_seconds = 1.0
            self.retry_after = "120"
            self.streamed_bytes = 0
            self.stream_finished.clear()
            self.role_can_use_tokens = True
            self.set_cookie = False

    def _handle(self, h: _Handler) -> None:
        headers = {name.lower(): value for name, value in h.headers.items()}
        size = headers.get("content-length", "0")
        length = int(size) if size.isascii() and size.isdigit() else -1
        sane = 0 <= length <= MAX_BODY
        body = h.rfile.read(length) if sane else b""
        h.close_connection = h.close_connection or not sane  # unread body: hang up
        form = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        rec = RecordedRequest(h.command, h.path, headers, form)
        if h.command == "GET" and h.path.startswith(RECORD_PATH):
            self._answer_record(h, rec)
            return
        route = CERTIFICATES_ROUTE.match(h.path)
        if route and h.command in ("GET", "POST"):
            self._answer_certificates(h, rec, body, route.group(1), route.group(2))
            return
        if h.command != "POST" or h.path.split("?", 1)[0] != TOKEN_PATH:
            rec.status, rec.error = 404, "not_found"
            rec.reason = f"no route for {h.command} {h.path}"
            self._record(rec)
            self._send(h, 404, JSON, _json({"error": "not_found"}))
            return
        with self._lock:
            kind = self._failures.popleft() if self._failures else None
            raw = self._token_answers.popleft() if kind is None and self._token_answers else None
        try:
            if not sane:
                raise _bad_request(f"bad or oversized Content-Length {length}")
            self._judge(headers, form, rec)
        except _Reject as reject:
            rec.status, rec.error, rec.reason = reject.status, reject.error, str(reject)
        if raw is not None:
            rules = f" (the rules alone would say: {rec.reason})" if rec.reason else ""
            rec.status, rec.reason = raw[0], f"scripted answer{rules}"
            self._record(rec)
            self._send(h, *raw)
        elif kind is not None:
            self._answer_scripted(h, rec, kind)
        elif rec.error is not None:
            self._record(rec)
            self._send(h, rec.status, JSON, _json({"error": rec.error}))
        else:
            token, body = self._token_body()
            claims = rec.claims or {}
            with self._lock:
                self.issued_tokens.append(token)
                scopes = frozenset(s.strip() for s in str(claims.get("scope", "")).split(","))
                self._grants[token] = (str(claims.get("iss")), scopes)
            self._record(rec)
            self._send(h, 200, JSON, body)

    def _fault(self, h: _Handler, rec: RecordedRequest, place: str, body: bytes) -> bool:
        """Break this answer if a fault (or an answer) is scripted for `place`; True when it was."""
        with self._lock:
            kind = self._faults[place].popleft() if self._faults[place] else None
        if kind is None:
            return False
        if isinstance(kind, tuple):
            rec.status, rec.reason = kind[0], "scripted answer"
            self._record(rec)
            self._send(h, *kind)
            return True
        rec.status, rec.reason = 200, f"scripted fault {kind!r}"
        self._record(rec)
        self._misbehave(h, kind, body)
        return True

    def _answer_record(self, h: _Handler, rec: RecordedRequest) -> None:
        """The REST record service: a bearer token it issued, never with a cookie."""
        if self._fault(h, rec, "record", _json({"items": [], "path": h.path})):
            return
        scheme, _, token = rec.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued_tokens or "cookie" in rec.headers:
            rec.reason = "no bearer token this fake issued, or a Cookie header with it"
        elif not self.role_can_use_tokens:
            rec.reason = 'the role lacks "Log in using OAuth 2.0 Access Tokens"'
        if rec.reason:
            rec.status, rec.error = 401, "INVALID_LOGIN"
            self._record(rec)
            detail = {"detail": "Invalid login attempt.", "o:errorCode": "INVALID_LOGIN"}
            body = {"title": "Unauthorized", "status": 401, "o:errorDetails": [detail]}
            self._send(h, 401, "application/vnd.oracle.resource+json; type=error", _json(body))
            return
        rec.status = 200
        self._record(rec)
        items = [{"name": name, "links": []} for name in ("account", "customer", "salesorder")]
        self._send(h, 200, JSON, _json({"items": items, "path": h.path}))

    def _answer_certificates(
        self, h: _Handler, rec: RecordedRequest, body: bytes, client_id: str, revoke_id: str | None
    ) -> None:
        """The certificate rotation endpoint: a bearer token issued to this client with
        rest_webservices, never with a cookie; scripted answers first."""
        if self._fault(h, rec, "certificates", _json({"id": secrets.token_urlsafe(32)[:43]})):
            return
        scheme, _, token = rec.headers.get("authorization", "").partition(" ")
        with self._lock:
            grant = self._grants.get(token) if scheme == "Bearer" else None
            scripted = self._certificate_answers.popleft() if self._certificate_answers else None
        answer: dict[str, Any]
        if grant is None or "cookie" in rec.headers:
            status, answer = 401, {"error": "no bearer token this fake issued, or a Cookie header with it"}
        elif grant[0] != client_id or "rest_webservices" not in grant[1]:
            status, answer = 403, {"error": "token of another client, or without rest_webservices"}
        elif scripted is not None:
            rec.status, rec.reason = scripted[0], "scripted certificate answer"
            self._record(rec)
            self._send(h, scripted[0], scripted[1], scripted[2])
            return
        elif revoke_id is not None:
            status, answer = self._revoke_certificate(client_id, revoke_id, h.command)
        elif h.command == "GET":
            status, answer = 200, {"items": self._certificates_of(client_id)}
        else:
            status, answer = self._add_certificate(client_id, body)
        rec.status, rec.error = status, answer.get("error") if status >= 400 else None
        rec.reason = str(rec.error or "")
        self._record(rec)
        self._send(h, status, JSON, _json(answer))

    def _add_certificate(self, client_id: str, body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            payload = json.loads(body)
            pem, role, entity = payload["fileContent"], payload["role"], payload["entity"]
            if type(role) is not int or type(entity) is not int or not isinstance(pem, str):
                raise TypeError("role and entity must be integers, fileContent a string")
            key = jwk.JWK.from_pem(pem.encode())
        except Exception as exc:  # malformed JSON, missing fields, a PEM jwcrypto cannot read
            return 400, {"error": f"bad certificate request: {exc}"}
        with self._lock:
            # The integration record's scopes stay those of its other certificates.
            scopes = [m.scopes for m in self._mappings.values() if m.consumer_key == client_id]
            certificate_id = secrets.token_urlsafe(32)[:43]
            self._mappings[certificate_id] = _Mapping(client_id, key, frozenset().union(*scopes))
            info = {"id": certificate_id, "status": "ACTIVE", "role": role, "entity": entity}
            self._certificates[certificate_id] = info
        return 200, dict(info)

    def _revoke_certificate(
        self, client_id: str, certificate_id: str, method: str
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            mapping = self._mappings.get(certificate_id)
            if method != "POST" or mapping is None or mapping.consumer_key != client_id:
                return 404, {"error": f"no certificate {certificate_id} for this client"}
            self._revoked.add(certificate_id)
        return 200, {"id": certificate_id, "status": "REVOKED"}

    def _certificates_of(self, client_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    **self._certificates.get(cid, {"id": cid}),
                    "status": "REVOKED" if cid in self._revoked else "ACTIVE",
                }
                for cid, mapping in self._mappings.items()
                if mapping.consumer_key == client_id
            ]

    def _token_body(self) -> tuple[str, bytes]:
        # Real access tokens are JWTs that clients must treat as opaque: random will do.
        token = ".".join(secrets.token_urlsafe(n) for n in (24, 96, 64))
        return token, _json(
            {"access_token": token, "expires_in": self.expires_in, "token_type": self.token_type}
        )

    def _answer_scripted(self, h: _Handler, rec: RecordedRequest, kind: str) -> None:
        rules = f" (the rules alone would say: {rec.reason})" if rec.reason else ""
        rec.reason = f"scripted failure {kind!r}{rules}"
        if kind in _SCRIPTED:
            status, ctype, body, extra, rec.error = _SCRIPTED[kind]
            if kind == "rate_limited":
                extra = {"Retry-After": self.retry_after}
            rec.status = status
            self._record(rec)
            self._send(h, status, ctype, body, extra)
            return
        rec.status, rec.error = 200, None
        self._record(rec)
        if kind in TRANSPORT_FAULTS:
            self._misbehave(h, kind, self._token_body()[1])
        elif kind == "timeout":
            time.sleep(TIMEOUT_SLEEP)
            self._send(h, 200, JSON, self._token_body()[1])
        elif kind == "huge_stream":
            self._stream_huge(h)
        elif kind == "gzip_bomb":
            h.close_connection = True
            bomb = _gzip_member() * GZIP_BOMB_MEMBERS
            self._send(h, 200, JSON, bomb, {"Content-Encoding": "gzip"})
        else:  # "huge"
            head = b'{"expires_in": "3600", "token_type": "Bearer", "access_token": "'
            pad = HUGE_SIZE - len(head) - 2
            self._send(h, 200, JSON, head + b"a" * pad + b'"}')

    def _stream_huge(self, h: _Handler) -> None:
        """Promise and stream HUGE_STREAM_SIZE bytes of a token answer that never closes its
        string, one reused chunk at a time, until sent or the client hangs up."""
        h.close_connection = True
        head = b'{"expires_in": "3600", "token_type": "Bearer", "access_token": "'
        chunk = memoryview(b"a" * STREAM_CHUNK)
        sent = 0
        try:
            promise = f"Content-Type: {JSON}\r\nContent-Length: {HUGE_STREAM_SIZE}\r\n\r\n"
            h.wfile.write(b"HTTP/1.1 200 OK\r\n" + promise.encode() + head)
            sent = len(head)
            while sent < HUGE_STREAM_SIZE and not self._stopping.is_set():
                piece = chunk[: HUGE_STREAM_SIZE - sent]
                h.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass  # the client hung up: what a client with a size cap does
        finally:
            with self._lock:
                self.streamed_bytes += sent
            self.stream_finished.set()

    def _misbehave(self, h: _Handler, kind: str, body: bytes) -> None:
        """Answer 200 with `body`, broken on the wire the way TRANSPORT_FAULTS says."""
        h.close_connection = True
        promised = len(body) if kind in ("trickle", "trickle_headers") else 1000
        extra = ""
        if kind == "bad_gzip":
            body = b"this is not gzip at all"
            promised, extra = len(body), "Content-Encoding: gzip\r\n"
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {JSON}\r\nContent-Length: {promised}\r\n{extra}\r\n"
        try:
            if kind in ("trickle", "trickle_headers"):
                start = b"" if kind == "trickle_headers" else head.encode()
                h.wfile.write(start)
                for byte in (head.encode() + body)[len(start) :]:
                    if self._stopping.wait(self.trickle_seconds):
                        return
                    h.wfile.write(bytes([byte]))
            elif kind == "bad_gzip":
                h.wfile.write(head.encode() + body)
            else:  # truncated, reset_mid_body, never_ends: 21 bytes of the 1000 promised
                h.wfile.write(head.encode() + body[:CUT_AFTER])
                if kind == "reset_mid_body":
                    time.sleep(0.2)  # the client reads the headers before the reset
                    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    os.close(h.connection.detach())  # linger 0: the close is a reset (RST)
                elif kind == "never_ends":
                    self._wait_for_hang_up(h.connection)
        except OSError:
            pass  # the client gave up, as it should

    def _wait_for_hang_up(self, connection: socket.socket) -> None:
        # Hold the connection open, sending nothing, until the client hangs up or the fake stops.
        for _ in range(120):
            readable, _, _ = select.select([connection], [], [], 0.5)
            if self._stopping.is_set() or (readable and not connection.recv(1, socket.MSG_PEEK)):
                return

    def _judge(self, headers: dict[str, str], form: dict[str, list[str]], rec: RecordedRequest) -> None:
        """Apply NETSUITE.md section 2 in order; raise _Reject at the first failure."""
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise _bad_request(f"Content-Type {ctype!r} is not form-urlencoded")
        if "authorization" in headers:
            raise _bad_request("multiple client authentications: Authorization header")
        for name in ("client_secret", "client_id"):
            if name in form:
                raise _bad_request(f"multiple client authentications: {name} field")
        if set(form) != FORM_FIELDS or any(len(v) != 1 for v in form.values()):
            raise _bad_request(f"body fields {sorted(form)}: not the three, once each")
        if form["grant_type"][0] != "client_credentials":
            raise _bad_request(f"grant_type {form['grant_type'][0]!r} is wrong")
        if form["client_assertion_type"][0] != ASSERTION_TYPE:
            raise _bad_request("client_assertion_type is not jwt-bearer")

        token = jws.JWS()
        try:
            assertion = form["client_assertion"][0]
            if assertion.count(".") != 2:  # jwcrypto would also take JSON serialization
                raise ValueError("not three dot-separated segments")
            token.deserialize(assertion)
            header = token.jose_header
            if not isinstance(header, dict):
                raise TypeError("protected header is not a JSON object")
        except Exception as exc:  # jwcrypto raises assorted types on hostile input
            raise _bad_request(f"client_assertion is not a compact JWS: {exc}") from exc
        rec.jose_header = header

        alg, kid = header.get("alg"), header.get("kid")
        if header.get("typ") != "JWT":
            raise _client(f"typ {header.get('typ')!r} is not 'JWT'")
        if alg not in ALG_KEYS:
            why = " (PKCS#1 v1.5, refused since 1 March 2025)" if alg in ("RS256", "RS384", "RS512") else ""
            raise _client(f"alg {alg!r} is not accepted{why}")
        if "kid" not in header:
            raise _Reject(500, "server_error", "no kid in the JOSE header")
        with self._lock:
            mapping = self._mappings.get(kid) if isinstance(kid, str) else None
            revoked = kid in self._revoked if isinstance(kid, str) else False
        if mapping is None:
            raise _client(f"kid {kid!r} is not registered")
        if revoked:
            raise _client(f"certificate {kid!r} is revoked")
        kty, crv = ALG_KEYS[alg]
        have_kty, have_crv = mapping.key.get("kty"), mapping.key.get("crv")
        if have_kty != kty or (crv is not None and have_crv != crv):
            have = f"{have_kty} {have_crv or ''}".strip()
            raise _client(f"InvalidSignature: {alg} cannot use this {have} key")
        token.allowed_algs = [alg]
        try:
            token.verify(mapping.key, alg=alg)
            claims = json.loads(token.payload)
        except ValueError as exc:
            raise _bad_request("assertion payload is not JSON") from exc
        except Exception as exc:
            raise _client(f"InvalidSignature: does not verify with {kid!r}") from exc
        if not isinstance(claims, dict):
            raise _bad_request("assertion payload is not a JSON object")
        rec.claims = claims
        self._judge_claims(claims, mapping, str(kid))

    def _judge_claims(self, claims: dict[str, Any], mapping: _Mapping, kid: str) -> None:
        iss, aud = claims.get("iss"), claims.get("aud")
        if iss != mapping.consumer_key:
            raise _client(f"iss {iss!r} is not the consumer key mapped to {kid!r}")
        if aud != self.token_url:
            raise _client(f"aud {aud!r} is not {self.token_url!r}")
        iat, exp, now = claims.get("iat"), claims.get("exp"), int(time.time())
        if type(iat) is not int or type(exp) is not int:  # bool is not an integer here
            raise _client(f"iat {iat!r} and exp {exp!r} must both be integers")
        if iat > now + 300:
            raise _client(f"iat is {iat - now} s in the future (clock skew)")
        if iat < now - 600:
            raise _client(f"iat is {now - iat} s old (clock skew)")
        if exp <= now:
            raise _client(f"assertion expired {now - exp} s ago")
        if exp <= iat or exp - iat >= 3600:
            raise _client(f"exp - iat is {exp - iat} s; must be in 1..3599")
        if "jti" in claims and not isinstance(claims["jti"], str):
            raise _client(f"jti {claims['jti']!r} is not a string")
        scope = claims.get("scope")
        if not isinstance(scope, str):
            raise _bad_request(f"scope {scope!r} is not a comma-separated string")
        scopes = [s.strip() for s in scope.split(",")]
        mixed_mcp = "mcp" in scopes and len(scopes) > 1
        if not set(scopes) <= KNOWN_SCOPES or len(set(scopes)) != len(scopes) or mixed_mcp:
            raise _Reject(400, "invalid_scope", f"scope {scope!r}: unknown, repeated, or mcp with others")
        if not set(scopes) <= mapping.scopes:
            missing = sorted(set(scopes) - mapping.scopes)
            raise _Reject(400, "invalid_scope", f"ScopeMismatched: {missing} not on the integration record")

    def _record(self, rec: RecordedRequest) -> None:
        # Recorded before answering, so a test sees it as soon as its response arrives.
        with self._lock:
            self.requests.append(rec)
        if self._echo:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            line = f"{stamp} {rec.method} {rec.path} -> {rec.status} {rec.error or '-'} {rec.reason}"
            print(line, flush=True)

    def _send(
        self, h: _Handler, status: int, ctype: str, body: bytes, extra: dict[str, str] | None = None
    ) -> None:
        if self.delay:
            time.sleep(self.delay)
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            if self.set_cookie:
                h.send_header("Set-Cookie", "NS_ROUTING_VERSION=LAGGING; Path=/")
            if status == 401:
                h.send_header("WWW-Authenticate", 'Bearer error="invalid_client"')
            for name, value in (extra or {}).items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(body)))
            h.answering()
            h.end_headers()
            if h.command != "HEAD":
                view, chunk = memoryview(body), 64 * 1024
                for start in range(0, len(body), chunk):
                    h.wfile.write(view[start : start + chunk])
        except ConnectionError:  # the client gave up (read timeout, size cap)
            h.close_connection = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_netsuite",
        description="Fake NetSuite OAuth 2.0 client-credentials token endpoint.",
    )
    add = parser.add_argument
    add("--certificate", required=True, type=Path, help="PEM certificate file")
    add("--certificate-id", required=True, help="Certificate ID (the JWT kid)")
    add("--consumer-key", required=True, help="Client ID / Consumer Key (the JWT iss)")
    add("--scopes", default=",".join(DEFAULT_SCOPES), help="comma-separated scopes on the integration")
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=8900)
    args = parser.parse_args(argv)

    fake = FakeNetSuite(args.host, args.port)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    pem = args.certificate.read_text()
    fake.register(
        consumer_key=args.consumer_key, certificate_id=args.certificate_id, certificate_pem=pem, scopes=scopes
    )
    fake._echo = True
    fake.start()
    print(f"Token URL: {fake.token_url}")
    print(f"Add to NSCONNECT_TOKEN_URL_ALLOWLIST: {fake.origin}")
    print("One line per request below; Ctrl-C to stop.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopping.")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
