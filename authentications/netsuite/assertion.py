"""The client credentials and the JWT assertion signed with them (NETSUITE.md section 2): who
signs (the consumer key), with which certificate (kid), for which scopes and token URL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import jwt
from django.views.decorators.debug import sensitive_variables

from authentications.keys.private_keys import PrivateKey
from authentications.netsuite.token_urls import (
    ProtocolValueError,
)

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# NetSuite refuses assertions living 60 minutes or more; short ones limit replay.
ASSERTION_LIFETIME_SECONDS = 300
SCOPES = ("restlets", "rest_webservices", "suite_analytics")
MCP_SCOPE = "mcp"


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
