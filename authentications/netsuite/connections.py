"""The HTTP session every call to NetSuite uses: one keep-alive session per thread, with no proxy,
netrc credentials or cookies, whose socket reads are cut to what is left of the deadline of the
exchange running on that thread, and whose connections go only to public addresses unless their
origin is in NSCONNECT_TOKEN_URL_ALLOWLIST.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import io
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from authentications.netsuite.addresses import why_not_public
from authentications.netsuite.token_urls import DEFAULT_PORTS, allowlisted_origins


@dataclass
class Deadline:
    """When an exchange must be over, and whether a read already ran into it."""

    at: float  # time.monotonic()
    expired: bool = False

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at


# The deadline of the exchange running on this thread; the socket reader below reads it.
_current = threading.local()


@contextlib.contextmanager
def reads_under(deadline: Deadline) -> Iterator[None]:
    """Within the block, responses read on this thread stop at `deadline`."""
    _current.deadline = deadline
    try:
        yield
    finally:
        _current.deadline = None


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads it, each read's timeout cut to what is left of the
    exchange's deadline: the read timeout alone applies per read, so an answer trickling a
    byte at a time would otherwise hold the request for as long as it likes."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: Deadline) -> None:
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


class NonPublicAddressError(urllib3.exceptions.HTTPError):
    """A host that resolves to a loopback, private, link-local, metadata or other non-public
    address, refused before any connection was made. Not an OSError, so that neither urllib3
    nor requests retries it or words it as a failure to connect."""

    def __init__(self, *, scheme: str, host: str, port: int, address: str, kind: str) -> None:
        default = DEFAULT_PORTS.get(scheme) == port
        self.origin = f"{scheme}://{_as_written(host)}" + ("" if default else f":{port}")
        self.host, self.address, self.kind = host, address, kind
        what = f"{host} is" if host == address else f"{host} resolves to {address},"
        super().__init__(
            f"{what} {kind}, not a public address, so nsconnect did not connect and sent nothing. "
            "NetSuite's hosts resolve to public addresses only: check the Authentication URL and "
            f"this server's DNS. If {self.origin} is a test or sandbox server you trust, add that "
            "origin to NSCONNECT_TOKEN_URL_ALLOWLIST."
        )


def _as_written(host: str) -> str:
    # urllib3 holds an IPv6 host without its brackets; URLs and the allowlist write them.
    return f"[{host}]" if ":" in host else host


def _allowlisted(scheme: str, host: str, port: int) -> bool:
    return (scheme, _as_written(host).lower(), port) in allowlisted_origins()


def connect_checked(conn: urllib3.connection.HTTPConnection, scheme: str) -> socket.socket:
    """Open `conn`'s socket as urllib3 would, but resolve its host once and connect only to the
    addresses of that one answer, each checked first: public, or the origin allowlisted.
    Resolving again to connect (as socket.create_connection does) would let a DNS answer that
    changed in between (rebinding) lead to an address that was never checked.

    One non-public address refuses the whole answer rather than being skipped: NetSuite's names
    never resolve to one, so such an answer is a misconfiguration or an attack, and a refusal
    that says so beats a connection that works or not depending on which address comes first.
    """
    host, port = conn.host, conn.port
    try:
        answer = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise urllib3.exceptions.NameResolutionError(host, conn, error) from error
    addresses = [str(sockaddr[0]) for *_, sockaddr in answer]
    refused = [(address, kind) for address in addresses if (kind := why_not_public(address))]
    if refused and not _allowlisted(scheme, host, port):
        address, kind = refused[0]
        raise NonPublicAddressError(scheme=scheme, host=host, port=port, address=address, kind=kind)
    last_error: OSError | None = None
    for family, type_, proto, _, sockaddr in answer:
        sock = None
        try:
            # Inside the try: a family this machine cannot open (IPv6 off) moves on to the next address.
            sock = socket.socket(family, type_, proto)
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            if conn.timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(conn.timeout)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(sockaddr)
        except OSError as failed:
            if sock is not None:
                sock.close()
            last_error = failed
            continue
        sys.audit("http.client.connect", conn, host, port)
        return sock
    # As urllib3's own _new_conn words them, so http_exchange explains them as before.
    if isinstance(last_error, TimeoutError):
        raise urllib3.exceptions.ConnectTimeoutError(
            conn, f"Connection to {host} timed out. (connect timeout={conn.timeout})"
        ) from last_error
    raise urllib3.exceptions.NewConnectionError(
        conn, f"Failed to establish a new connection: {last_error or 'the name resolved to no address'}"
    ) from last_error


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _DeadlineResponse

    def _new_conn(self) -> socket.socket:
        return connect_checked(self, "http")


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _DeadlineResponse

    def _new_conn(self) -> socket.socket:
        return connect_checked(self, "https")


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


_sessions = threading.local()


def http_session() -> requests.Session:
    """This thread's session, made on first use.

    One keep-alive session per thread; trust_env off so no ~/.netrc
    credentials (an Authorization header) or proxy is ever added silently, and
    no cookie jar: NetSuite sets routing cookies, and a Cookie header must never
    travel with a bearer token.
    """
    session = getattr(_sessions, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.mount("https://", _DeadlineAdapter())
        session.mount("http://", _DeadlineAdapter())
        _sessions.session = session
    return session
