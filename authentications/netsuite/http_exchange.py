"""The one HTTP exchange with NetSuite that every outbound request goes through, and how it fails:
the allowlist checked again, exactly the checked URL, a total deadline, a bounded answer, and
every way the transport can fail as a TokenRequestError a person can act on.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import requests
import urllib3
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from authentications.netsuite.connections import Deadline, NonPublicAddressError, http_session, reads_under
from authentications.netsuite.token_urls import DEFAULT_PORTS, URL_EXAMPLE, Endpoint, ProtocolValueError

# A token answer is a few KB; anything far larger is not NetSuite.
MAX_RESPONSE_BYTES = 64 * 1024


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


def refused_url(error: ProtocolValueError) -> TokenRequestError:
    """A URL refused at request time (the allowlist may have changed since it was saved)."""
    return TokenRequestError(
        "bad_url",
        f"{error} nsconnect sent nothing. Correct the Authentication URL on the edit form "
        "(a test server's origin must be in NSCONNECT_TOKEN_URL_ALLOWLIST).",
    )


# --- the one HTTP exchange --------------------------------------------------------------


def exchange_deadline_seconds() -> float:
    """The longest one exchange with NetSuite may take, start to last byte: the connect
    timeout plus the read timeout. A lease held around an exchange must outlive it."""
    return float(settings.NSCONNECT_HTTP_CONNECT_TIMEOUT) + float(settings.NSCONNECT_HTTP_READ_TIMEOUT)


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
    session = http_session()
    request = session.prepare_request(
        requests.Request(method, endpoint.url, headers=headers, data=data, json=json_body)
    )
    _check_prepared(request, endpoint)
    request.headers.pop("Cookie", None)  # whatever the jar holds, never beside a bearer token
    connect_timeout = float(settings.NSCONNECT_HTTP_CONNECT_TIMEOUT)
    read_timeout = float(settings.NSCONNECT_HTTP_READ_TIMEOUT)
    deadline = Deadline(time.monotonic() + connect_timeout + read_timeout)
    with reads_under(deadline):
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


def _check_prepared(request: requests.PreparedRequest, endpoint: Endpoint) -> None:
    # Defence in depth: the HTTP library must read the URL as nsconnect did, to the byte.
    try:
        parsed = urllib3.util.parse_url(request.url or "")
    except urllib3.exceptions.LocationParseError:
        parsed = None
    same = parsed is not None and (
        parsed.scheme,
        (parsed.host or "").lower(),
        parsed.port or DEFAULT_PORTS.get(parsed.scheme or "", 0),
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


def _failure_before_answer(error: BaseException, host: str, deadline: Deadline) -> TokenRequestError:
    """A failure while connecting, sending, or waiting for the status line and headers."""
    connect_timeout = settings.NSCONNECT_HTTP_CONNECT_TIMEOUT
    read_timeout = settings.NSCONNECT_HTTP_READ_TIMEOUT
    for cause in _causes(error):
        if isinstance(cause, NonPublicAddressError):  # refused before connecting: nothing was sent
            return TokenRequestError("bad_url", str(cause))
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
    if _caused_by(error, ConnectionRefusedError):
        return TokenRequestError(
            "connection",
            f"Could not connect to {host}: the connection was refused (nothing accepts connections "
            "at that address and port, or a firewall refuses them), so nothing was sent. Check the "
            "Authentication URL and that this server can reach NetSuite.",
        )
    if _caused_by(error, urllib3.exceptions.NewConnectionError):
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


def _failure_mid_answer(error: BaseException, host: str, deadline: Deadline) -> TokenRequestError:
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
