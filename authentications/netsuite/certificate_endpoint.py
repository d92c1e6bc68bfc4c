"""NetSuite's certificate rotation endpoint (NETSUITE.md section 5): list, add and revoke
the certificates of an integration record with a bearer token from the record itself.

Its rules are the token request's: token_urls' one URL parser, http_exchange's exchange
with timeouts, total deadline, size cap, no redirects and the allowlist checked at every
request. The answer bodies are not publicly documented, so every answer is kept as it came
(capped, its secrets removed by scrubbing), and the Certificate ID is looked for, never assumed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.views.decorators.debug import sensitive_variables

from authentications.netsuite import scrubbing
from authentications.netsuite.http_exchange import MAX_RESPONSE_BYTES, TokenRequestError, exchange
from authentications.netsuite.token_request import LOGIN_AUDIT_TRAIL, parse_json_answer
from authentications.netsuite.token_urls import Endpoint, ProtocolValueError, token_endpoint

CERTIFICATES_PATH = "/services/rest/auth/oauth2/v1/clients/{client_id}/certificates"
REVOKE_PATH = CERTIFICATES_PATH + "/{certificate_id}/revoke"
# Enough to read any plausible answer in the UI and the audit trail, small enough for a JSON column.
MAX_ANSWER_CHARS = 4000
MANAGE_PERMISSION = "Manage own OAuth 2.0 Client Credentials certificates"
# The scope a token needs for the certificate endpoint.
REST_WEB_SERVICES = "rest_webservices"
_INTERNAL_ID = re.compile(r"^[0-9]{1,20}$")
# What a client ID and a Certificate ID look like: they go into URL paths, so nothing else.
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# Where an "add" answer may carry the new Certificate ID, most specific first. "kid" is
# what the ID is called in the assertion; "id" comes last because a generic id could be
# an internal record number, so only a string that looks like a Certificate ID is taken.
CERTIFICATE_ID_KEYS = ("certificateId", "certificate_id", "certId", "kid", "id")
# Envelopes an API commonly wraps one record in; the ID is looked for inside them too.
ENVELOPE_KEYS = ("certificate", "data", "result", "item")
# What a POST may have done although its answer never arrived.
_MAYBE_CARRIED_OUT = (
    " Check the certificates in NetSuite before trying again: the request may have been carried out."
)


class CertificateEndpointError(TokenRequestError):
    """NetSuite could not be asked, or gave no usable answer; the message says what to do.

    A TokenRequestError like every failed exchange, with the same kinds ("timeout", "bad_url", ...).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)


@dataclass(frozen=True)
class CertificateAnswer:
    """What the certificate endpoint answered, as it came (capped), and what was read from it."""

    status: int
    content_type: str
    payload: Any  # the parsed JSON (the bearer token replaced), or None when the body is not JSON
    raw: str  # the body as text, scrubbed, capped at MAX_ANSWER_CHARS: what the audit trail keeps
    explanation: str
    certificate_id: str = ""  # add only: the new Certificate ID, when the answer carries one
    certificate_id_key: str = ""  # where it was found, e.g. "certificate.id"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def pretty(self) -> str:
        """The answer for people, scrubbed: indented JSON when it is JSON, else the text."""
        if self.payload is None:
            return self.raw
        return json.dumps(scrubbing.scrub(self.payload), indent=2)[:MAX_ANSWER_CHARS]


def certificates_endpoint(token_url: str, path: str) -> Endpoint:
    """Where the certificate endpoint's `path` is: on the account's restlets host.

    The token URL is parsed and checked as for a token request (the allowlist as it is now);
    an allowlisted origin (a test or sandbox server) stands in for both hosts.
    """
    try:
        token = token_endpoint(token_url)
    except ProtocolValueError as error:
        raise ProtocolValueError(
            f"The certificate endpoint is found from the token URL, which is refused: {error}"
        ) from None
    if token.allowlisted():
        return dataclasses.replace(token, path=path, query="")
    account = token.host.split(".", 1)[0]
    return Endpoint(scheme="https", host=f"{account}.restlets.api.netsuite.com", port=443, path=path)


def certificates_host(token_url: str) -> str:
    """The origin serving the certificate endpoint: the account's restlets host.

    https://1234567-sb1.suitetalk.api.netsuite.com/... -> https://1234567-sb1.restlets.api.netsuite.com.
    """
    return certificates_endpoint(token_url, "/").origin


def _segment(value: str, what: str) -> str:
    if not _PATH_SEGMENT.match(value):
        raise ProtocolValueError(f"The {what} has characters NetSuite never uses in one.")
    return quote(value, safe="")


@sensitive_variables("access_token")
def list_certificates(*, token_url: str, access_token: str, client_id: str) -> CertificateAnswer:
    path = CERTIFICATES_PATH.format(client_id=_segment(client_id, "client ID"))
    return _call("GET", token_url, path, access_token)


@sensitive_variables("access_token")
def add_certificate(
    *,
    token_url: str,
    access_token: str,
    client_id: str,
    certificate_pem: str,
    role_id: str,
    entity_id: str,
) -> CertificateAnswer:
    """Upload a certificate for (role, entity); the answer may carry its new Certificate ID."""
    if not (_INTERNAL_ID.match(role_id) and _INTERNAL_ID.match(entity_id)):
        raise ProtocolValueError("The NetSuite role ID and entity ID are internal IDs: digits only.")
    path = CERTIFICATES_PATH.format(client_id=_segment(client_id, "client ID"))
    body = {"fileContent": certificate_pem, "role": int(role_id), "entity": int(entity_id)}
    answer = _call("POST", token_url, path, access_token, body)
    if not answer.ok or answer.payload is None:
        # A 2xx page that is not JSON may be a maintenance page: not called "accepted".
        return answer
    found = find_certificate_id(answer.payload, exclude=client_id)
    if found is None:
        explanation = (
            f"NetSuite accepted the certificate (HTTP {answer.status}), but its answer carries no "
            "Certificate ID nsconnect recognises. Copy it from Setup > Integration > Manage "
            "Authentication > OAuth 2.0 Client Credentials (M2M) Setup and enter it by hand."
        )
        return dataclasses.replace(answer, explanation=explanation)
    key, certificate_id = found
    explanation = f"NetSuite accepted the certificate and gave it the Certificate ID {certificate_id}."
    return dataclasses.replace(
        answer, explanation=explanation, certificate_id=certificate_id, certificate_id_key=key
    )


@sensitive_variables("access_token")
def revoke_certificate(
    *, token_url: str, access_token: str, client_id: str, certificate_id: str
) -> CertificateAnswer:
    path = REVOKE_PATH.format(
        client_id=_segment(client_id, "client ID"),
        certificate_id=_segment(certificate_id, "Certificate ID"),
    )
    return _call("POST", token_url, path, access_token)


def find_certificate_id(payload: Any, *, exclude: str = "") -> tuple[str, str] | None:
    """(where, Certificate ID) from an answer of unknown shape, or None.

    Looks at CERTIFICATE_ID_KEYS at the top level, then inside ENVELOPE_KEYS; takes only
    strings shaped like a Certificate ID, never the client ID echoed back.
    """
    places: list[tuple[str, Any]] = [("", payload)]
    if isinstance(payload, dict):
        places += [(f"{name}.", payload.get(name)) for name in ENVELOPE_KEYS]
    for prefix, place in places:
        if not isinstance(place, dict):
            continue
        for key in CERTIFICATE_ID_KEYS:
            value = place.get(key)
            if isinstance(value, str) and _PATH_SEGMENT.match(value) and value != exclude:
                return prefix + key, value
    return None


@sensitive_variables()
def _call(
    method: str, token_url: str, path: str, access_token: str, body: dict[str, Any] | None = None
) -> CertificateAnswer:
    try:
        # Checked at every call: an origin removed from the allowlist is refused from then on.
        endpoint = certificates_endpoint(token_url, path)
    except ProtocolValueError as error:
        raise CertificateEndpointError(
            "bad_url", f"{error} NetSuite was not asked; correct the Authentication URL on the edit form."
        ) from None
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    try:
        # exchange never sends a cookie along with the bearer token (NETSUITE.md section 6).
        response, content = exchange(method, endpoint, headers=headers, json_body=body)
    except TokenRequestError as error:
        # A POST whose answer never came (or came broken) may still have been carried out.
        maybe = method == "POST" and error.kind not in ("bad_url", "bad_request", "tls")
        raise CertificateEndpointError(
            error.kind, error.message + (_MAYBE_CARRIED_OUT if maybe else "")
        ) from None
    if len(content) > MAX_RESPONSE_BYTES:
        raise CertificateEndpointError(
            "bad_response",
            f"NetSuite's answer (HTTP {response.status_code}) was larger than "
            f"{MAX_RESPONSE_BYTES // 1024} KB, which no certificate answer is.",
        )
    text = content.decode("utf-8", errors="replace")
    # None when not JSON, or nested too deep to walk (scrubbing recurses).
    payload = parse_json_answer(text)
    status = response.status_code
    if payload is not None:
        # Should NetSuite ever echo the token, it goes no further than this function.
        payload = scrubbing.replace_token(payload, access_token)
        raw = json.dumps(scrubbing.scrub(payload))
    else:
        raw = scrubbing.scrub_text(text, access_token=access_token)
    return CertificateAnswer(
        status=status,
        content_type=response.headers.get("Content-Type", "").split(";")[0],
        payload=payload,
        raw=raw[:MAX_ANSWER_CHARS],
        explanation=_explain(status, payload),
    )


def _explain(status: int, payload: Any) -> str:
    if 200 <= status < 300:
        if payload is None:
            return (
                f"NetSuite answered HTTP {status}, but not in JSON. Check in NetSuite's OAuth 2.0 "
                "Client Credentials (M2M) Setup whether the change was made."
            )
        return f"NetSuite answered HTTP {status}."
    if status == 401:
        return (
            "NetSuite refused the token (401). The record needs the rest_webservices scope and the "
            f'role of the certificate mapping the permission "{MANAGE_PERMISSION}" '
            "(Setup > Users/Roles > Manage Roles). " + LOGIN_AUDIT_TRAIL
        )
    if status == 403:
        return (
            "NetSuite accepted the token but refused the operation (403): the role needs "
            f'"{MANAGE_PERMISSION}", and the role and entity IDs must be ones this integration '
            "record may map."
        )
    if status == 404:
        return (
            "NetSuite has no such endpoint or certificate (404). The certificate endpoint exists from "
            "NetSuite 2026.1 on; check the consumer key and, to revoke, the Certificate ID."
        )
    if status == 400:
        return (
            "NetSuite rejected the request (400): check the role and entity IDs (internal IDs of "
            "the mapping's role and entity) and the certificate. Its answer is below."
        )
    if 300 <= status < 400:
        return f"NetSuite answered with a redirect (HTTP {status}); nsconnect does not follow it."
    if status == 429:
        return "NetSuite is limiting requests (HTTP 429). Try again in a few minutes."
    if status >= 500:
        return (
            f"NetSuite could not answer (HTTP {status}). Check its certificates before trying "
            "again: the change may have been made anyway."
        )
    return f"NetSuite answered HTTP {status}."
