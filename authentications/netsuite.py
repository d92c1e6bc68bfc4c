"""The NetSuite OAuth 2.0 client credentials protocol: the only module that speaks it.

Facts and their sources are in shared NETSUITE.md; every rule there is applied here.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings

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

_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)?$")
_SUITETALK_HOST = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.suitetalk\.api\.netsuite\.com$")
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def is_allowlisted(url: str) -> bool:
    allowed = {_origin(origin) for origin in settings.NSCONNECT_TOKEN_URL_ALLOWLIST}
    try:
        return _origin(url) in allowed
    except ValueError:  # a port that is not a number
        return False


def check_token_url(url: str) -> str:
    """Return the token URL as it will be POSTed (and put in `aud`), or explain what is wrong."""
    url = url.strip()
    example = f"https://1234567.suitetalk.api.netsuite.com{TOKEN_PATH}"
    if is_allowlisted(url):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        raise ProtocolValueError(f"The Authentication URL must start with https://, as in {example}.")
    if "_" in host:
        suggestion = host.split(".")[0].replace("_", "-")
        raise ProtocolValueError(
            f'A hostname cannot contain "_": NetSuite writes account {host.split(".")[0].upper()} '
            f"as {suggestion} in its URLs (for example https://{suggestion}.suitetalk.api.netsuite.com...)."
        )
    if host.endswith(".netsuite.com") and not _SUITETALK_HOST.match(host):
        raise ProtocolValueError(
            f"{host} is not the token host: NetSuite's token URL is on "
            f"<account>.suitetalk.api.netsuite.com, as in {example}."
        )
    if not _SUITETALK_HOST.match(host):
        raise ProtocolValueError(
            f"The Authentication URL must be a NetSuite token URL such as {example} "
            "(other hosts are admitted only through NSCONNECT_TOKEN_URL_ALLOWLIST)."
        )
    if parts.port not in (None, 443) or parts.username or parts.query or parts.fragment:
        raise ProtocolValueError(f"The Authentication URL takes no port, user, query or fragment: {example}.")
    if parts.path != TOKEN_PATH:
        raise ProtocolValueError(f"The path of the token URL is {TOKEN_PATH}.")
    return f"https://{host}{TOKEN_PATH}"


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

    TRANSIENT_KINDS = frozenset({"timeout", "connection", "rate_limited", "unavailable", "bad_response"})

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
        _sessions.session = session
    return session


def _exchange(
    method: str, url: str, *, headers: dict[str, str], data: Any = None, json_body: Any = None
) -> tuple[requests.Response, bytes]:
    """One HTTP exchange under the rules for every call to NetSuite: connect and read
    timeouts, no redirect followed, no cookie sent, and at most one chunk more than
    MAX_RESPONSE_BYTES read (so len(content) > MAX_RESPONSE_BYTES means too large).
    Timeouts and connection errors are raised as requests raises them."""
    session = _session()
    request = session.prepare_request(
        requests.Request(method, url, headers=headers, data=data, json=json_body)
    )
    request.headers.pop("Cookie", None)  # whatever the jar holds, never beside a bearer token
    with session.send(
        request,
        timeout=(settings.NSCONNECT_HTTP_CONNECT_TIMEOUT, settings.NSCONNECT_HTTP_READ_TIMEOUT),
        allow_redirects=False,
        stream=True,
    ) as response:
        return response, _read_at_most(response, MAX_RESPONSE_BYTES)


def request_token(credentials: Credentials, now: datetime) -> TokenResponse:
    """POST a freshly signed assertion to the token URL and return NetSuite's answer."""
    body = {
        "grant_type": GRANT_TYPE,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": build_assertion(credentials, now),
    }
    connect_timeout = settings.NSCONNECT_HTTP_CONNECT_TIMEOUT
    read_timeout = settings.NSCONNECT_HTTP_READ_TIMEOUT
    host = urlsplit(credentials.token_url).hostname
    try:
        response, content = _exchange(
            "POST", credentials.token_url, headers={"Accept": "application/json"}, data=body
        )
    except requests.ConnectTimeout:
        raise TokenRequestError(
            "timeout", f"Could not connect to {host} within {connect_timeout:g} seconds. Try again later."
        ) from None
    except requests.Timeout:
        raise TokenRequestError(
            "timeout",
            f"NetSuite ({host}) did not answer within {read_timeout:g} seconds. Try again later.",
        ) from None
    except requests.ConnectionError:
        raise TokenRequestError(
            "connection",
            f"Could not connect to {host}: check the Authentication URL and that this server "
            "can reach NetSuite.",
        ) from None
    if len(content) > MAX_RESPONSE_BYTES:
        raise TokenRequestError(
            "bad_response",
            f"NetSuite's answer (HTTP {response.status_code}) was larger than "
            f"{MAX_RESPONSE_BYTES // 1024} KB, which no token answer is. "
            "Check the Authentication URL.",
            status=response.status_code,
        )
    return _parse_response(response, content)


def _read_at_most(response: requests.Response, limit: int) -> bytes:
    """The body, but stop reading one chunk past the limit: len() > limit means too large."""
    content = bytearray()
    for chunk in response.iter_content(chunk_size=16 * 1024):
        content += chunk
        if len(content) > limit:
            break
    return bytes(content)


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
_REST_PATH = re.compile(r"^/services/rest/[A-Za-z0-9/_.,=&?%-]{1,300}$")
TEST_RESPONSE_LINES = 20


@dataclass(frozen=True)
class TestResponse:
    status: int
    content_type: str
    first_lines: list[str]
    explanation: str


def check_rest_path(path: str) -> str:
    path = path.strip() or TEST_REQUEST_PATH
    if not _REST_PATH.match(path) or ".." in path or "//" in path:
        raise ProtocolValueError(f"Enter a path on NetSuite's REST services, such as {TEST_REQUEST_PATH}.")
    return path


def send_test_request(*, token_url: str, access_token: str, path: str) -> TestResponse:
    """GET a REST resource on the account's own host with the bearer token, and show the answer.

    The host is the token URL's (checked again here, so the allowlist still applies);
    never a Cookie header, never a redirect followed.
    """
    base = urlsplit(check_token_url(token_url))
    url = f"{base.scheme}://{base.netloc}{check_rest_path(path)}"
    read_timeout = settings.NSCONNECT_HTTP_READ_TIMEOUT
    try:
        response, content = _exchange(
            "GET", url, headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        )
    except requests.Timeout:
        raise TokenRequestError(
            "timeout", f"NetSuite did not answer within {read_timeout:g} seconds."
        ) from None
    except requests.ConnectionError:
        raise TokenRequestError("connection", f"Could not connect to {base.hostname}.") from None
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
