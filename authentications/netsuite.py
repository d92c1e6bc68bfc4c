"""The NetSuite OAuth 2.0 client credentials protocol: the only module that speaks it.

Facts and their sources are in shared NETSUITE.md; every rule there is applied here.
Every outbound request goes through `exchange`: one parse of the URL, the allowlist
checked again, a total deadline, and every way it can fail as a TokenRequestError.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import http.cookiejar
import io
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import jwt
import requests
import urllib3
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from authentications.keys import PrivateKey

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"  # noqa: S105  (a URL path, not a password)
GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# NetSuite refuses assertions living 60 minutes or more; short ones limit replay.
ASSERTION_LIFETIME_SECONDS = 300
# A token answer is a few KB; anything far larger is not NetSuite.
MAX_RESPONSE_BYTES = 64 * 1024
SCOPES = ("restlets", "rest_webservices", "suite_analytics")
MCP_SCOPE = "mcp"
LOGIN_AUDIT_TRAIL = (
    "A NetSuite administrator sees the exact reason in the Login Audit Trail "
    "(Setup > Users/Roles > User Management > View Login Audit Trail)."
)
URL_EXAMPLE = f"https://1234567.suitetalk.api.netsuite.com{TOKEN_PATH}"

_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)?$")
SUITETALK_HOST = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.suitetalk\.api\.netsuite\.com$")
RESTLETS_HOST = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.restlets\.api\.netsuite\.com$")
_SUITETALK_HOST = SUITETALK_HOST  # the name other modules used before it was public
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# scheme://authority path rest; what a URL must look like before its parts are read.
_URL_SHAPE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(.*)$", re.DOTALL)
# "_" is let through here so that the token URL rules can explain it (NetSuite writes "-").
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_PORT = re.compile(r"^[1-9][0-9]{0,4}$")
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]*$")


class ProtocolValueError(ValueError):
    """A value NetSuite would refuse, with a message fit to show next to its field."""


def account_host(account_id: str) -> str:
    """NetSuite's host label for an account: lowercase, "_" becomes "-" (1234567_SB1 -> 1234567-sb1)."""
    account_id = account_id.strip()
    if not _ACCOUNT_ID.match(account_id):
        raise ProtocolValueError(
            "An account ID is letters and digits, with an optional suffix such as _SB1 "
            "(for example 1234567 or 1234567_SB1)."
        )
    return account_id.lower().replace("_", "-")


def token_url_for_account(account_id: str) -> str:
    return f"https://{account_host(account_id)}.suitetalk.api.netsuite.com{TOKEN_PATH}"


# --- URLs: parsed once, sent as rebuilt --------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A URL parsed once into the parts a request goes to. `url` is rebuilt from these parts
    alone, so what was checked is what is sent (and what `aud` names)."""

    scheme: str  # "http" or "https"
    host: str  # lower case; an IPv6 address in brackets
    port: int
    path: str
    query: str = ""

    @property
    def origin(self) -> str:
        port = "" if _DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        return f"{self.scheme}://{self.host}{port}"

    @property
    def url(self) -> str:
        return self.origin + self.path + (f"?{self.query}" if self.query else "")

    def allowlisted(self) -> bool:
        """Whether NSCONNECT_TOKEN_URL_ALLOWLIST admits this origin, read now (settings change)."""
        return (self.scheme, self.host, self.port) in allowlisted_origins()

    def is_netsuite(self) -> bool:
        """An https URL on NetSuite's own token or certificate host, default port."""
        return (
            self.scheme == "https"
            and self.port == 443
            and bool(SUITETALK_HOST.match(self.host) or RESTLETS_HOST.match(self.host))
        )


def parse_url(text: str, *, what: str = "The Authentication URL") -> Endpoint:
    """Parse a URL into scheme, host, port and path, refusing anything two parsers could read
    differently (backslashes, user info, control characters, spaces, percent-encoding in the host
    or path, empty labels, a trailing dot, non-ASCII, short IP forms, a port that is not a port)
    and any query or fragment. `what` names the URL in the messages."""
    text = text.strip()
    if any(ord(char) > 0x7E for char in text):
        raise ProtocolValueError(f"{what} contains a character that is not plain ASCII; type it again.")
    if any(ord(char) < 0x21 for char in text):
        raise ProtocolValueError(f"{what} contains a space or a control character; remove it.")
    if "\\" in text:
        raise ProtocolValueError(f'{what} contains a backslash ("\\"); URLs use "/" only.')
    shape = _URL_SHAPE.match(text)
    if shape is None:
        raise ProtocolValueError(f"{what} must be a full URL such as {URL_EXAMPLE}.")
    scheme, authority, path, rest = shape.groups()
    scheme = scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ProtocolValueError(f"{what} must start with https://, as in {URL_EXAMPLE}.")
    if rest:
        raise ProtocolValueError(f"{what} takes no query or fragment (nothing from ? or #): {URL_EXAMPLE}.")
    if "@" in authority:
        raise ProtocolValueError(f'{what} takes no user name or password (nothing before "@" in the host).')
    if "%" in authority:
        raise ProtocolValueError(f"{what} has a percent-encoded host; write the host name as it is.")
    host, port = _host_and_port(authority, scheme, what)
    return Endpoint(scheme=scheme, host=host, port=port, path=_canonical_path(path or "/", what))


def _host_and_port(authority: str, scheme: str, what: str) -> tuple[str, int]:
    if authority.startswith("["):
        inner, _, after = authority[1:].partition("]")
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise ProtocolValueError(f"{what} has a host in brackets that is not an IPv6 address.") from None
        if str(address) != inner.lower() or (after and not after.startswith(":")):
            raise ProtocolValueError(f"{what}: write the IPv6 address in its short form, as [{address}].")
        host, has_port, port_text = f"[{address}]", bool(after), after[1:]
    else:
        host, colon, port_text = authority.partition(":")
        host, has_port = host.lower(), bool(colon)
        _check_host_name(host, what)
    if not has_port:
        return host, _DEFAULT_PORTS[scheme]
    if not _PORT.match(port_text) or int(port_text) > 65535:
        raise ProtocolValueError(f"{what} has a port that is not a number from 1 to 65535.")
    return host, int(port_text)


def _check_host_name(host: str, what: str) -> None:
    if not host:
        raise ProtocolValueError(f"{what} has no host: {URL_EXAMPLE}.")
    if host.endswith("."):
        raise ProtocolValueError(f"{what}: the host {host} ends with a dot; remove it.")
    labels = host.split(".")
    if "" in labels:
        raise ProtocolValueError(f"{what}: the host {host} has two dots in a row.")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ProtocolValueError(f"{what}: the host has characters a host name cannot have.")
    # "127.1", "0x7f.0.0.1" or "2130706433" are read as IP addresses by the resolver, not as names.
    try:
        socket.inet_aton(host)
    except OSError:
        return
    try:
        canonical = str(ipaddress.IPv4Address(host))
    except ValueError:
        canonical = ""
    if canonical != host:
        raise ProtocolValueError(f"{what}: write the IP address as four decimal numbers, such as 127.0.0.1.")


def _canonical_path(path: str, what: str) -> str:
    segments = path.split("/")[1:]
    if "//" in path or any(segment in (".", "..") for segment in segments):
        raise ProtocolValueError(f'{what} has a path with "//", "./" or "../"; give the path as it is.')
    if not all(_PATH_SEGMENT.match(segment) for segment in segments):
        raise ProtocolValueError(
            f"{what} has a path with characters NetSuite's URLs never have (such as % or @)."
        )
    return path


def allowlisted_origins() -> frozenset[tuple[str, str, int]]:
    """(scheme, host, port) of every NSCONNECT_TOKEN_URL_ALLOWLIST origin, parsed like any URL."""
    origins = set()
    for entry in settings.NSCONNECT_TOKEN_URL_ALLOWLIST:
        try:
            endpoint = parse_url(entry, what="An NSCONNECT_TOKEN_URL_ALLOWLIST entry")
        except ProtocolValueError:
            continue  # admits nothing; the system checks name malformed entries
        if endpoint.path == "/":
            origins.add((endpoint.scheme, endpoint.host, endpoint.port))
    return frozenset(origins)


def is_allowlisted(url: str) -> bool:
    try:
        return parse_url(url).allowlisted()
    except ProtocolValueError:
        return False


def token_endpoint(url: str) -> Endpoint:
    """The token URL parsed, under NetSuite's rules unless its origin is allowlisted."""
    endpoint = parse_url(url)
    if endpoint.allowlisted():
        return endpoint
    host = endpoint.host
    if endpoint.scheme != "https":
        raise ProtocolValueError(f"The Authentication URL must start with https://, as in {URL_EXAMPLE}.")
    if "_" in host:
        account = host.split(".")[0]
        suggestion = account.replace("_", "-")
        raise ProtocolValueError(
            f'A hostname cannot contain "_": NetSuite writes account {account.upper()} '
            f"as {suggestion} in its URLs (for example https://{suggestion}.suitetalk.api.netsuite.com...)."
        )
    if host.endswith(".netsuite.com") and not SUITETALK_HOST.match(host):
        raise ProtocolValueError(
            f"{host} is not the token host: NetSuite's token URL is on "
            f"<account>.suitetalk.api.netsuite.com, as in {URL_EXAMPLE}."
        )
    if not SUITETALK_HOST.match(host):
        raise ProtocolValueError(
            f"The Authentication URL must be a NetSuite token URL such as {URL_EXAMPLE} "
            "(other hosts are admitted only through NSCONNECT_TOKEN_URL_ALLOWLIST)."
        )
    if endpoint.port != 443:
        raise ProtocolValueError(f"The Authentication URL takes no port: {URL_EXAMPLE}.")
    if endpoint.path != TOKEN_PATH:
        raise ProtocolValueError(f"The path of the token URL is {TOKEN_PATH}.")
    return endpoint


def check_token_url(url: str) -> str:
    """Return the token URL as it will be POSTed (and put in `aud`), or explain what is wrong."""
    return token_endpoint(url).url


def refused_url(error: ProtocolValueError) -> TokenRequestError:
    """A URL refused at request time (the allowlist may have changed since it was saved)."""
    return TokenRequestError(
        "bad_url",
        f"{error} nsconnect sent nothing. Correct the Authentication URL on the edit form "
        "(a test server's origin must be in NSCONNECT_TOKEN_URL_ALLOWLIST).",
    )


def parse_scopes(text: str) -> list[str]:
    """Split comma-separated scopes and apply NetSuite's rules; raise with a message if broken."""
    scopes = [scope.strip().lower() for scope in text.split(",") if scope.strip()]
    if not scopes:
        raise ProtocolValueError(f"Enter at least one scope: {', '.join(SCOPES)}.")
    unknown = [scope for scope in scopes if scope not in (*SCOPES, MCP_SCOPE)]
    if unknown:
        raise ProtocolValueError(
            f"Unknown scope {', '.join(unknown)}: NetSuite's scopes are {', '.join(SCOPES)} (or mcp alone)."
        )
    duplicates = sorted({scope for scope in scopes if scopes.count(scope) > 1})
    if duplicates:
        raise ProtocolValueError(f"{', '.join(duplicates)} is listed more than once.")
    if MCP_SCOPE in scopes and len(scopes) > 1:
        raise ProtocolValueError("The mcp scope cannot be combined with other scopes.")
    return scopes


@dataclass(frozen=True)
class Credentials:
    consumer_key: str
    certificate_id: str
    algorithm: str
    scopes: list[str]
    token_url: str
    private_key: PrivateKey = field(repr=False)


@sensitive_variables()
def build_assertion(credentials: Credentials, now: datetime) -> str:
    issued_at = int(now.timestamp())
    claims = {
        "iss": credentials.consumer_key,
        # The documented form is a comma-separated string, not a JSON array.
        "scope": ",".join(credentials.scopes),
        "aud": credentials.token_url,
        "iat": issued_at,
        "exp": issued_at + ASSERTION_LIFETIME_SECONDS,
        "jti": str(uuid.uuid4()),
    }
    headers = {"typ": "JWT", "kid": credentials.certificate_id}
    return jwt.encode(claims, credentials.private_key, algorithm=credentials.algorithm, headers=headers)


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    token_type: str
    expires_in: int

    def expires_at(self, obtained_at: datetime) -> datetime:
        return obtained_at + timedelta(seconds=self.expires_in)


class TokenRequestError(Exception):
    """A token request that failed, explained in words a person can act on.

    The message never holds the assertion, key or token: it is shown, stored and logged.
    """

    TRANSIENT_KINDS = frozenset(
        {"timeout", "connection", "interrupted", "tls", "rate_limited", "unavailable", "bad_response"}
    )

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.error_code = error_code
        self.retry_after = retry_after

    @property
    def is_transient(self) -> bool:
        return self.kind in self.TRANSIENT_KINDS


# --- the one HTTP exchange --------------------------------------------------------------


def exchange_deadline_seconds() -> float:
    """The longest one exchange with NetSuite may take, start to last byte: the connect
    timeout plus the read timeout. A lease held around an exchange must outlive it."""
    return float(settings.NSCONNECT_HTTP_CONNECT_TIMEOUT) + float(settings.NSCONNECT_HTTP_READ_TIMEOUT)


@dataclass
class _Deadline:
    at: float  # time.monotonic()
    expired: bool = False

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at


# The deadline of the exchange running on this thread; the socket reader below reads it.
_current = threading.local()


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads it, each read's timeout cut to what is left of the
    exchange's deadline: the read timeout alone applies per read, so an answer trickling a
    byte at a time would otherwise hold the request for as long as it likes."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._raw, self._sock, self._deadline = raw, sock, deadline
        self._read_timeout = sock.gettimeout()  # urllib3 set the read timeout just before

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline.at - time.monotonic()
        if left <= 0:
            self._deadline.expired = True
            raise TimeoutError("the exchange's total deadline has passed")
        cut = self._read_timeout is None or left < self._read_timeout
        self._sock.settimeout(left if cut else self._read_timeout)
        try:
            return self._raw.readinto(buffer)
        except TimeoutError:
            self._deadline.expired = self._deadline.expired or cut
            raise

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            # Nothing is read yet: the buffered reader's raw socket stream is taken over as is.
            raw = self.fp.detach()
            self.fp = io.BufferedReader(_DeadlineReader(raw, sock, deadline))


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


_sessions = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per thread; trust_env off so no ~/.netrc
    # credentials (an Authorization header) or proxy is ever added silently, and
    # no cookie jar: NetSuite sets routing cookies, and a Cookie header must never
    # travel with a bearer token.
    session = getattr(_sessions, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.mount("https://", _DeadlineAdapter())
        session.mount("http://", _DeadlineAdapter())
        _sessions.session = session
    return session


# What the transport can raise; anything else is a bug and is not dressed up as NetSuite's.
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


@sensitive_variables()
def exchange(
    method: str, endpoint: Endpoint, *, headers: dict[str, str], data: Any = None, json_body: Any = None
) -> tuple[requests.Response, bytes]:
    """One HTTP exchange under the rules for every call to NetSuite: only to NetSuite or an
    allowlisted origin (checked now, not only when the URL was saved), exactly the URL that was
    checked, connect and read timeouts and a total deadline (exchange_deadline_seconds), no
    redirect followed, no cookie sent, and at most one chunk more than MAX_RESPONSE_BYTES read
    (so len(content) > MAX_RESPONSE_BYTES means too large). Every failure of the transport is
    raised as a TokenRequestError saying what happened and what to do."""
    if not (endpoint.allowlisted() or endpoint.is_netsuite()):
        raise TokenRequestError(
            "bad_url",
            f"{endpoint.origin} is neither NetSuite nor in NSCONNECT_TOKEN_URL_ALLOWLIST, so nsconnect "
            "sent nothing. Correct the Authentication URL on the edit form.",
        )
    session = _session()
    request = session.prepare_request(
        requests.Request(method, endpoint.url, headers=headers, data=data, json=json_body)
    )
    _check_prepared(request, endpoint)
    request.headers.pop("Cookie", None)  # whatever the jar holds, never beside a bearer token
    connect_timeout = float(settings.NSCONNECT_HTTP_CONNECT_TIMEOUT)
    read_timeout = float(settings.NSCONNECT_HTTP_READ_TIMEOUT)
    deadline = _Deadline(time.monotonic() + connect_timeout + read_timeout)
    _current.deadline = deadline
    try:
        try:
            response = session.send(
                request, timeout=(connect_timeout, read_timeout), allow_redirects=False, stream=True
            )
        except _TRANSPORT_ERRORS as error:
            raise _failure_before_answer(error, endpoint.host, deadline) from None
        with response:
            try:
                return response, _read_at_most(response, MAX_RESPONSE_BYTES)
            except _TRANSPORT_ERRORS as error:
                raise _failure_mid_answer(error, endpoint.host, deadline) from None
    finally:
        _current.deadline = None


def _check_prepared(request: requests.PreparedRequest, endpoint: Endpoint) -> None:
    # Defence in depth: the HTTP library must read the URL as nsconnect did, to the byte.
    try:
        parsed = urllib3.util.parse_url(request.url or "")
    except urllib3.exceptions.LocationParseError:
        parsed = None
    same = parsed is not None and (
        parsed.scheme,
        (parsed.host or "").lower(),
        parsed.port or _DEFAULT_PORTS.get(parsed.scheme or "", 0),
    ) == (endpoint.scheme, endpoint.host, endpoint.port)
    if not same or request.url != endpoint.url:
        raise TokenRequestError(
            "bad_url",
            "The HTTP library would read this URL differently from nsconnect, so nothing was sent. "
            f"Write the Authentication URL plainly, as in {URL_EXAMPLE}.",
        )


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what it wraps: requests and urllib3 nest the socket's error several deep."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo += [item for item in nested if isinstance(item, BaseException)]


def _caused_by(error: BaseException, *kinds: type[BaseException]) -> bool:
    return any(isinstance(cause, kinds) for cause in _causes(error))


def _deadline_failure(host: str) -> TokenRequestError:
    return TokenRequestError(
        "timeout",
        f"NetSuite ({host}) was still answering after {exchange_deadline_seconds():g} seconds, the most "
        "nsconnect waits for one request (NSCONNECT_HTTP_CONNECT_TIMEOUT + NSCONNECT_HTTP_READ_TIMEOUT): "
        "the answer came far too slowly. This is usually temporary: try again later.",
    )


def _tls_failure(error: BaseException, host: str) -> TokenRequestError:
    if "CERTIFICATE_VERIFY_FAILED" in str(error) or _caused_by(error, ssl.SSLCertVerificationError):
        message = (
            f"The TLS certificate {host} presented was not trusted, so nothing was sent. Check that the "
            "Authentication URL names NetSuite's host and that nothing between this server and NetSuite "
            "intercepts TLS (a proxy or firewall with its own certificate)."
        )
    else:
        message = (
            f"The TLS connection to {host} failed, so nothing was sent. Check that this server can reach "
            "NetSuite over HTTPS and that nothing in between intercepts TLS."
        )
    return TokenRequestError("tls", message)


def _failure_before_answer(error: BaseException, host: str, deadline: _Deadline) -> TokenRequestError:
    """A failure while connecting, sending, or waiting for the status line and headers."""
    connect_timeout = settings.NSCONNECT_HTTP_CONNECT_TIMEOUT
    read_timeout = settings.NSCONNECT_HTTP_READ_TIMEOUT
    if deadline.passed():
        return _deadline_failure(host)
    if isinstance(error, requests.ConnectTimeout):
        return TokenRequestError(
            "timeout", f"Could not connect to {host} within {connect_timeout:g} seconds. Try again later."
        )
    if isinstance(error, requests.Timeout) or _caused_by(error, TimeoutError):
        return TokenRequestError(
            "timeout", f"NetSuite ({host}) did not answer within {read_timeout:g} seconds. Try again later."
        )
    if isinstance(error, requests.exceptions.SSLError) or _caused_by(error, ssl.SSLError):
        return _tls_failure(error, host)
    if isinstance(error, requests.exceptions.InvalidHeader):
        return TokenRequestError(
            "bad_request",
            f"A header nsconnect would send to {host} is not valid HTTP, so nothing was sent. If the token "
            "is to blame, retrieve a new one.",
        )
    if isinstance(
        error,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            urllib3.exceptions.LocationValueError,
        ),
    ):
        return TokenRequestError(
            "bad_url", f"The URL for {host} is not valid, so nothing was sent. Check the Authentication URL."
        )
    if _caused_by(error, urllib3.exceptions.NameResolutionError, socket.gaierror):
        return TokenRequestError(
            "connection",
            f"Could not connect to {host}: the name does not resolve. Check the Authentication URL and "
            "this server's DNS.",
        )
    if _caused_by(error, urllib3.exceptions.NewConnectionError, ConnectionRefusedError):
        return TokenRequestError(
            "connection",
            f"Could not connect to {host}: check the Authentication URL and that this server can reach "
            "NetSuite.",
        )
    if _caused_by(
        error, ConnectionResetError, http.client.RemoteDisconnected, urllib3.exceptions.ProtocolError
    ):
        return TokenRequestError(
            "connection",
            f"{host} accepted the connection but closed it without answering. This is usually "
            "temporary: try again later.",
        )
    return TokenRequestError(
        "connection",
        f"The request to {host} failed ({type(error).__name__}). Try again later; if it keeps happening, "
        "check that this server can reach NetSuite.",
    )


def _failure_mid_answer(error: BaseException, host: str, deadline: _Deadline) -> TokenRequestError:
    """A failure after the headers arrived, while the body was read."""
    if deadline.passed():
        return _deadline_failure(host)
    if _caused_by(error, requests.Timeout, urllib3.exceptions.ReadTimeoutError, TimeoutError):
        return TokenRequestError(
            "timeout",
            f"NetSuite ({host}) started answering but stopped sending for "
            f"{settings.NSCONNECT_HTTP_READ_TIMEOUT:g} seconds, so nsconnect gave up on the answer. "
            "This is usually temporary: try again later.",
        )
    if _caused_by(error, requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError):
        return TokenRequestError(
            "bad_response",
            f"NetSuite's answer from {host} could not be decoded: its Content-Encoding does not match "
            "its body. Try again later; if it keeps happening, check the Authentication URL.",
        )
    if _caused_by(error, ConnectionResetError):
        return TokenRequestError(
            "interrupted",
            f"The connection to {host} was reset while NetSuite was answering, so the answer is "
            "incomplete. This is usually temporary: try again later.",
        )
    return TokenRequestError(
        "interrupted",
        f"NetSuite's answer from {host} was cut off: the connection closed before the whole answer "
        f"arrived ({type(error).__name__}). This is usually temporary: try again later.",
    )


def _read_at_most(response: requests.Response, limit: int) -> bytes:
    """The body, but stop reading one chunk past the limit: len() > limit means too large."""
    content = bytearray()
    for chunk in response.iter_content(chunk_size=16 * 1024):
        content += chunk
        if len(content) > limit:
            break
    return bytes(content)


# --- the token request --------------------------------------------------------------------


@sensitive_variables()
def request_token(credentials: Credentials, now: datetime) -> TokenResponse:
    """POST a freshly signed assertion to the token URL and return NetSuite's answer."""
    try:
        endpoint = token_endpoint(credentials.token_url)
    except ProtocolValueError as error:
        raise refused_url(error) from None
    # `aud` is exactly the URL POSTed: the one rebuilt from the checked parts.
    credentials = dataclasses.replace(credentials, token_url=endpoint.url)
    body = {
        "grant_type": GRANT_TYPE,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": build_assertion(credentials, now),
    }
    response, content = exchange("POST", endpoint, headers={"Accept": "application/json"}, data=body)
    if len(content) > MAX_RESPONSE_BYTES:
        raise TokenRequestError(
            "bad_response",
            f"NetSuite's answer (HTTP {response.status_code}) was larger than "
            f"{MAX_RESPONSE_BYTES // 1024} KB, which no token answer is. "
            "Check the Authentication URL.",
            status=response.status_code,
        )
    return _parse_response(response, content)


def _parse_response(response: requests.Response, content: bytes) -> TokenResponse:
    status = response.status_code
    payload = _json_object(content)
    if status == 200 and payload is not None:
        return _token_from(payload)
    if 300 <= status < 400:
        raise TokenRequestError(
            "redirect",
            f"The Authentication URL answered with a redirect (HTTP {status}); nsconnect never "
            "sends an assertion on to another address. Copy the token URL from NetSuite's "
            "Company URLs (Setup > Company > Company Information).",
            status=status,
        )
    if status == 429:
        retry_after = _retry_after(response)
        wait = f" Retry after {retry_after} seconds." if retry_after else ""
        raise TokenRequestError(
            "rate_limited",
            f"NetSuite is limiting requests (HTTP 429).{wait}",
            status=status,
            retry_after=retry_after,
        )
    error_code = payload.get("error") if payload else None
    if isinstance(error_code, str) and _ERROR_CODE.match(error_code):
        raise _oauth_error(status, error_code)
    if status >= 500:
        raise TokenRequestError(
            "unavailable",
            f"NetSuite could not answer (HTTP {status}). This is usually temporary: "
            "try again in a few minutes.",
            status=status,
            retry_after=_retry_after(response),
        )
    kind = response.headers.get("Content-Type", "no content type").split(";")[0]
    raise TokenRequestError(
        "bad_response",
        f"The Authentication URL answered HTTP {status} with {kind}, not a NetSuite token answer "
        "in JSON. Check the URL; if it is right, NetSuite may be under maintenance.",
        status=status,
    )


def _json_object(content: bytes) -> dict[str, object] | None:
    try:
        payload = json.loads(content)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _token_from(payload: dict[str, object]) -> TokenResponse:
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenRequestError(
            "bad_response", "NetSuite answered HTTP 200 without an access_token.", status=200
        )
    token_type = payload.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenRequestError(
            "bad_response", "NetSuite answered with a token that is not a bearer token.", status=200
        )
    # Oracle's example sends expires_in as a string ("3600"), its table as a number.
    raw_expires = payload.get("expires_in", 3600)
    try:
        expires_in = int(str(raw_expires))
    except ValueError:
        expires_in = 0
    if expires_in <= 0:
        raise TokenRequestError(
            "bad_response",
            "NetSuite answered with an expires_in that is not a number of seconds.",
            status=200,
        )
    return TokenResponse(access_token=token, token_type="Bearer", expires_in=expires_in)  # noqa: S106


def _retry_after(response: requests.Response) -> int | None:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() else None


def _oauth_error(status: int, code: str) -> TokenRequestError:
    explanations = {
        "invalid_client": (
            "NetSuite did not accept the credentials (invalid_client). Check the consumer key, "
            "the certificate ID, and that the certificate is active in NetSuite's OAuth 2.0 "
            "Client Credentials (M2M) Setup for this integration record."
        ),
        "invalid_scope": (
            "NetSuite refused the scopes (invalid_scope): tick them on the integration record "
            "(Setup > Integration > Manage Integrations), or remove the missing ones here."
        ),
        "invalid_request": (
            "NetSuite rejected the request as malformed (invalid_request). Check the "
            "Authentication URL and the JWT algorithm."
        ),
        "invalid_grant": (
            "NetSuite refused the grant (invalid_grant): check that the integration record "
            "allows the Client Credentials (Machine to Machine) grant and that the entity and "
            "role of the certificate mapping are active."
        ),
        "server_error": (
            f"NetSuite answered server_error (HTTP {status}). It does so for outages, but also "
            "for assertions signed by a key it does not know: check the certificate ID."
        ),
    }
    message = explanations.get(code, f"NetSuite refused the request (HTTP {status}, {code}).")
    return TokenRequestError(code, f"{message} {LOGIN_AUDIT_TRAIL}", status=status, error_code=code)


# --- the REST record service, for "Send test request" ---------------------------------

TEST_REQUEST_PATH = "/services/rest/record/v1/metadata-catalog"
_REST_PATH = re.compile(r"^/services/rest/[A-Za-z0-9/_.,=&-]{1,300}$")
_REST_QUERY = re.compile(r"^(?:[A-Za-z0-9_.,=&+:*-]|%[0-9A-F]{2}){0,500}$")
TEST_RESPONSE_LINES = 20


@dataclass(frozen=True)
class TestResponse:
    status: int
    content_type: str
    first_lines: list[str]
    explanation: str


def check_rest_path(path: str) -> str:
    """The path (and query) exactly as it will be sent: percent-escapes in the path are decoded
    before it is checked, because the HTTP library or NetSuite would decode %2e%2e to "..".
    """
    refused = ProtocolValueError(f"Enter a path on NetSuite's REST services, such as {TEST_REQUEST_PATH}.")
    text = path.strip() or TEST_REQUEST_PATH
    rest_path, _, query = text.partition("?")
    for _ in range(3):  # %252e is %2e once decoded, then "."
        if "%" not in rest_path:
            break
        try:
            rest_path = unquote(rest_path, errors="strict")
        except UnicodeDecodeError:
            raise refused from None
    segments = rest_path.split("/")
    if (
        "%" in rest_path
        or not _REST_PATH.match(rest_path)
        or ".." in rest_path
        or "//" in rest_path
        or "." in segments
    ):
        raise refused
    query = re.sub(r"%[0-9a-f]{2}", lambda escape: escape.group().upper(), query)
    if not _REST_QUERY.match(query):
        raise refused
    # As requests sends it: an escaped unreserved character ("%2E") goes out as the character.
    query = requests.utils.unquote_unreserved(query)
    return f"{rest_path}?{query}" if query else rest_path


@sensitive_variables()
def send_test_request(*, token_url: str, access_token: str, path: str) -> TestResponse:
    """GET a REST resource on the account's own host with the bearer token, and show the answer.

    The host is the token URL's (checked again here, so the allowlist still applies);
    never a Cookie header, never a redirect followed.
    """
    try:
        base = token_endpoint(token_url)
    except ProtocolValueError as error:
        raise refused_url(error) from None
    rest_path, _, query = check_rest_path(path).partition("?")
    endpoint = dataclasses.replace(base, path=rest_path, query=query)
    response, content = exchange(
        "GET", endpoint, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    )
    text = content[:MAX_RESPONSE_BYTES].decode("utf-8", errors="replace")
    with contextlib.suppress(ValueError):  # not JSON: show it as it came
        text = json.dumps(json.loads(text), indent=2)
    return TestResponse(
        status=response.status_code,
        content_type=response.headers.get("Content-Type", "").split(";")[0],
        first_lines=text.splitlines()[:TEST_RESPONSE_LINES],
        explanation=_explain_rest_status(response.status_code, text),
    )


def _explain_rest_status(status: int, text: str) -> str:
    if status == 401 and "INVALID_LOGIN" in text:
        return (
            "NetSuite issued the token but refuses it here (401 INVALID_LOGIN): the role of the "
            'certificate mapping needs the permission "Log in using OAuth 2.0 Access Tokens" '
            "(Setup > Users/Roles > Manage Roles). " + LOGIN_AUDIT_TRAIL
        )
    if status == 401:
        return "NetSuite refused the token (401)."
    if status == 403:
        return "The token works, but the role may not read this resource (403)."
    if status == 404:
        return "The token works, but there is no resource at this path (404)."
    if 200 <= status < 300:
        return "The token works: NetSuite answered this request."
    return f"NetSuite answered HTTP {status}."
