"""The client credentials and the JWT assertion signed with them (NETSUITE.md section 2): who
signs (the consumer key), with which certificate (kid), for which scopes and token URL."""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.views.decorators.debug import sensitive_variables
from jwt.algorithms import ECAlgorithm, RSAPSSAlgorithm, get_default_algorithms
from jwt.utils import base64url_encode

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


# PyJWT's signers by JWT algorithm name (PS* pads with PSS, ES* gives r || s as RFC 7518 asks).
_SIGNERS = get_default_algorithms()


@sensitive_variables()
def build_assertion(credentials: Credentials, now: datetime) -> str:
    """The compact JWS, as `jwt.encode` writes it (header keys sorted, no spaces), signed by
    PyJWT's own algorithm. Written here because `jwt.encode` rebuilt and checked the same
    header and key on every call, twice what signing with a P-256 key costs."""
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
    payload = base64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = _header_segment(credentials.algorithm, credentials.certificate_id) + b"." + payload
    signer = _SIGNERS[credentials.algorithm]
    # As jwt.encode does: the key's type (and curve) must be the algorithm's.
    signature = signer.sign(signing_input, signer.prepare_key(credentials.private_key))
    return (signing_input + b"." + base64url_encode(signature)).decode("ascii")


@functools.lru_cache(maxsize=256)
def _header_segment(algorithm: str, certificate_id: str) -> bytes:
    if not isinstance(_SIGNERS.get(algorithm), RSAPSSAlgorithm | ECAlgorithm):
        raise ValueError(f"{algorithm} is not an algorithm NetSuite takes assertions in")
    header = {"alg": algorithm, "kid": certificate_id, "typ": "JWT"}
    return base64url_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
