"""NetSuite's URL rules: a URL parsed once into an Endpoint, whose origin must be NetSuite's or
allowlisted (NSCONNECT_TOKEN_URL_ALLOWLIST), and the token URL of an account.

What was checked is what is sent: every request goes to `Endpoint.url`, rebuilt from the parts.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from dataclasses import dataclass

from django.conf import settings

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"  # noqa: S105  (a URL path, not a password)
URL_EXAMPLE = f"https://1234567.suitetalk.api.netsuite.com{TOKEN_PATH}"

_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)?$")
SUITETALK_HOST = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.suitetalk\.api\.netsuite\.com$")
RESTLETS_HOST = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.restlets\.api\.netsuite\.com$")
DEFAULT_PORTS = {"http": 80, "https": 443}
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
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
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
    if scheme not in DEFAULT_PORTS:
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
        inner, closed, after = authority[1:].partition("]")
        if not closed:  # "[::1" would otherwise be read as [::1], which no HTTP library does
            raise ProtocolValueError(f'{what} opens an IPv6 address with "[" but never closes it with "]".')
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
        return host, DEFAULT_PORTS[scheme]
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
    return _origins(tuple(settings.NSCONNECT_TOKEN_URL_ALLOWLIST))


@functools.lru_cache(maxsize=8)
def _origins(entries: tuple[str, ...]) -> frozenset[tuple[str, str, int]]:
    # Cached by the setting's value: read on every token served, it never changes in a process
    # but under a test's override (a new value, a new entry).
    origins = set()
    for entry in entries:
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
    return _token_endpoint(url, tuple(settings.NSCONNECT_TOKEN_URL_ALLOWLIST))


@functools.lru_cache(maxsize=4096)
def _token_endpoint(url: str, allowlist: tuple[str, ...]) -> Endpoint:
    # Cached by the URL and the allowlist it was judged under: the token API checks the URL of
    # every token it serves (40 us, a tenth of a request), and the answer changes with neither.
    # A refusal raises, and is not cached.
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
