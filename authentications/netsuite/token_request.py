"""The token request (NETSUITE.md section 3): POST the signed assertion to the token URL and
read NetSuite's answer, its refusals (OAuth error codes, Retry-After) and its hostile shapes
as a TokenResponse or a TokenRequestError a person can act on."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authentications.netsuite import assertion
from authentications.netsuite.http_exchange import (
    MAX_RESPONSE_BYTES,
    TokenRequestError,
    exchange,
    refused_url,
)
from authentications.netsuite.token_urls import (
    ProtocolValueError,
    token_endpoint,
)

LOGIN_AUDIT_TRAIL = (
    "A NetSuite administrator sees the exact reason in the Login Audit Trail "
    "(Setup > Users/Roles > User Management > View Login Audit Trail)."
)
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
# NetSuite's tokens live 3600 s. A day is generous; more would keep a token (and serve it)
# long after NetSuite stopped honouring it, and a huge number overflows the date arithmetic.
MAX_EXPIRES_IN_SECONDS = 86_400
# A token served must have a minute left (token_single_flight.token_for_consumer): one said
# to live less would send every API call and every sweep back to NetSuite.
MIN_EXPIRES_IN_SECONDS = 60
# NetSuite's tokens are JWTs of about a kilobyte. What goes into an Authorization header must be
# printable ASCII without spaces (RFC 6750 allows less still): no CR/LF to split the header.
MAX_ACCESS_TOKEN_CHARS = 16_384
_ACCESS_TOKEN = re.compile(r"[\x21-\x7e]+")
# NetSuite's answers are a few levels deep; deeper JSON is not an answer worth reading, and
# walking it (scrubbing, indenting) could exhaust the recursion limit.
MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    token_type: str
    expires_in: int

    def expires_at(self, obtained_at: datetime) -> datetime:
        return obtained_at + timedelta(seconds=self.expires_in)


# --- the token request --------------------------------------------------------------------


@sensitive_variables()
def request_token(credentials: assertion.Credentials, now: datetime) -> TokenResponse:
    """POST a freshly signed assertion to the token URL and return NetSuite's answer."""
    try:
        endpoint = token_endpoint(credentials.token_url)
    except ProtocolValueError as error:
        raise refused_url(error) from None
    # `aud` is exactly the URL POSTed: the one rebuilt from the checked parts.
    credentials = dataclasses.replace(credentials, token_url=endpoint.url)
    form = {
        "grant_type": assertion.GRANT_TYPE,
        "client_assertion_type": assertion.ASSERTION_TYPE,
        "client_assertion": assertion.build_assertion(credentials, now),
    }
    # Encoded here, as requests would encode the form: given a dict, requests 2.34 checks it
    # against typing protocols at run time, 40 µs of a refresh's CPU.
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    response, content = exchange("POST", endpoint, headers=headers, data=urlencode(form).encode("ascii"))
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
        wait = f" Retry after {retry_after} seconds." if retry_after else " Try again in a few minutes."
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
    payload = parse_json_answer(content)
    return payload if isinstance(payload, dict) else None


def parse_json_answer(content: bytes | str) -> Any:
    """An answer's JSON, or None when it is not JSON nsconnect reads: malformed, or nested
    deeper than MAX_JSON_DEPTH (json.loads raises RecursionError on "[" * 60000)."""
    try:
        payload = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return payload if _depth_at_most(payload, MAX_JSON_DEPTH) else None


def _depth_at_most(payload: Any, limit: int) -> bool:
    # Iterative: a recursive walk is what this guards against.
    todo: list[tuple[Any, int]] = [(payload, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return False
            items = value.values() if isinstance(value, dict) else value
            todo.extend((item, depth + 1) for item in items)
    return True


def _token_from(payload: dict[str, object]) -> TokenResponse:
    token = payload.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenRequestError(
            "bad_response", "NetSuite answered HTTP 200 without an access_token.", status=200
        )
    # The token itself is never quoted: it is a secret, and these messages are shown and stored.
    if len(token) > MAX_ACCESS_TOKEN_CHARS:
        raise TokenRequestError(
            "bad_response",
            f"The Authentication URL answered with an access token of {len(token)} characters; "
            f"NetSuite's are about a thousand, and nsconnect refuses any over {MAX_ACCESS_TOKEN_CHARS}. "
            "Check the Authentication URL.",
            status=200,
        )
    if not _ACCESS_TOKEN.fullmatch(token):
        raise TokenRequestError(
            "bad_response",
            "The Authentication URL answered with an access token holding spaces, line breaks, control "
            "or non-ASCII characters, which no NetSuite token has and no HTTP header may carry. "
            "nsconnect refused it. Check the Authentication URL.",
            status=200,
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
    except ValueError:  # "soon", null, 3600.5, or past int()'s 4300 digits
        raise TokenRequestError(
            "bad_response",
            "NetSuite answered with an expires_in that is not a number of seconds.",
            status=200,
        ) from None
    if expires_in <= 0:
        raise TokenRequestError(
            "bad_response",
            "The Authentication URL answered with a token said to live zero seconds or less (a "
            "negative expires_in): it would be expired on arrival. NetSuite's live 3600 seconds. "
            "Check the Authentication URL.",
            status=200,
        )
    if expires_in < MIN_EXPIRES_IN_SECONDS:
        raise TokenRequestError(
            "bad_response",
            f"The Authentication URL answered with a token said to live {expires_in} seconds, less than "
            f"a minute; NetSuite's live 3600 seconds. Check the Authentication URL.",
            status=200,
        )
    if expires_in > MAX_EXPIRES_IN_SECONDS:
        raise TokenRequestError(
            "bad_response",
            f"The Authentication URL answered with a token said to live more than "
            f"{MAX_EXPIRES_IN_SECONDS} seconds (a day); NetSuite's live 3600 seconds. nsconnect "
            "refused it rather than keep a token NetSuite no longer honours. Check the Authentication URL.",
            status=200,
        )
    return TokenResponse(access_token=token, token_type="Bearer", expires_in=expires_in)  # noqa: S106


# A wait longer than this is not believed as given (the back-off caps it at an hour anyway).
MAX_RETRY_AFTER_SECONDS = 86_400


def _retry_after(response: requests.Response) -> int | None:
    """Retry-After in seconds (RFC 9110: a number of seconds or an HTTP date), or None.

    Headers arrive decoded as Latin-1, where "²" passes str.isdigit() and then fails int():
    only ASCII digits are read, and a date that cannot be read is no Retry-After at all.
    """
    value = response.headers.get("Retry-After", "").strip()
    if value.isascii() and value.isdigit():
        digits = value.lstrip("0") or "0"  # "00000000001" is one second, not a huge number
        seconds = int(digits) if len(digits) <= 10 else MAX_RETRY_AFTER_SECONDS
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000": UTC by RFC 5322
            when = when.replace(tzinfo=UTC)
        seconds = math.ceil((when - timezone.now()).total_seconds())
    return min(seconds, MAX_RETRY_AFTER_SECONDS) if seconds > 0 else None


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
