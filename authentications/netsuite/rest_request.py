"""The REST request behind "Send test request": which paths may be asked for, and the first
lines of what NetSuite's REST record service answered with the current token."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

import requests
from django.views.decorators.debug import sensitive_variables

from authentications.netsuite import token_request
from authentications.netsuite.http_exchange import (
    MAX_RESPONSE_BYTES,
    exchange,
    refused_url,
)
from authentications.netsuite.token_urls import (
    ProtocolValueError,
    token_endpoint,
)

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


# The test request's path field takes as much (maxlength); a longer post is refused, not echoed.
MAX_REST_PATH_CHARS = 320


def check_rest_path(path: str) -> str:
    """The path (and query) exactly as it will be sent: percent-escapes in the path are decoded
    before it is checked, because the HTTP library or NetSuite would decode %2e%2e to "..".
    """
    refused = ProtocolValueError(f"Enter a path on NetSuite's REST services, such as {TEST_REQUEST_PATH}.")
    if len(path) > MAX_REST_PATH_CHARS:
        raise ProtocolValueError(
            f"The path is {len(path):,} characters long; at most {MAX_REST_PATH_CHARS} are sent."
        )
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
    payload = token_request.parse_json_answer(text)
    if payload is not None:  # else not JSON (or too deep): show it as it came
        text = json.dumps(payload, indent=2)
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
            "(Setup > Users/Roles > Manage Roles). " + token_request.LOGIN_AUDIT_TRAIL
        )
    if status == 401:
        return "NetSuite refused the token (401)."
    if status == 403:
        return "The token works, but the role may not read this resource (403)."
    if status == 404:
        return "The token works, but there is no resource at this path (404)."
    if 200 <= status < 300:
        return "The token works: NetSuite answered this request."
    if 300 <= status < 400:
        return (
            f"NetSuite answered with a redirect (HTTP {status}). nsconnect does not follow redirects, "
            "so the token went nowhere else. Check the path and the Authentication URL."
        )
    return f"NetSuite answered HTTP {status}."
