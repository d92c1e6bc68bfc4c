"""The HTTP session every call to NetSuite uses: one keep-alive session per thread, with no proxy,
netrc credentials or cookies, whose socket reads are cut to what is left of the deadline of the
exchange running on that thread.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


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
