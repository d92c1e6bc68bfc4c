"""The client credentials and the JWT assertion signed with them (NETSUITE.md section 2): who
signs (the consumer key), with which certificate (kid), for which scopes and token URL."""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.views.decorators.debug import sensitive_variables
from jwt.exceptions import InvalidKeyError
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


# How each algorithm NetSuite takes signs (RFC 7518 section 3.5): PSS with MGF1 of the same
# hash and a salt as long as the hash, for RSA keys.
_PSS = {
    f"PS{bits}": (padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)
    for bits, digest in ((256, hashes.SHA256()), (384, hashes.SHA384()), (512, hashes.SHA512()))
}
# Section 3.4: ECDSA on the algorithm's own curve, written as r || s, each as long as the curve.
_ECDSA: dict[str, tuple[type[ec.EllipticCurve], ec.ECDSA, int]] = {
    "ES256": (ec.SECP256R1, ec.ECDSA(hashes.SHA256()), 32),
    "ES384": (ec.SECP384R1, ec.ECDSA(hashes.SHA384()), 48),
    "ES512": (ec.SECP521R1, ec.ECDSA(hashes.SHA512()), 66),
}


@sensitive_variables()
def build_assertion(credentials: Credentials, now: datetime) -> str:
    """The compact JWS, as `jwt.encode` writes it (header keys sorted, no spaces), signed as
    PyJWT signs. Written here because `jwt.encode` rebuilt and checked the same header and key
    on every call, twice what signing with a P-256 key costs."""
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
    signature = _signature(credentials.algorithm, credentials.private_key, signing_input)
    return (signing_input + b"." + base64url_encode(signature)).decode("ascii")


@sensitive_variables()
def _signature(algorithm: str, key: PrivateKey, signing_input: bytes) -> bytes:
    # As jwt.encode does, a key of another type (or curve) than the algorithm's is refused.
    if algorithm in _PSS:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InvalidKeyError(f"{algorithm} signs with an RSA key")
        pss, digest = _PSS[algorithm]
        return key.sign(signing_input, pss, digest)
    curve, ecdsa, size = _ECDSA[algorithm]
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, curve):
        raise InvalidKeyError(f"{algorithm} signs with a key on {curve.name}")
    r, s = decode_dss_signature(key.sign(signing_input, ecdsa))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


@functools.lru_cache(maxsize=256)
def _header_segment(algorithm: str, certificate_id: str) -> bytes:
    if algorithm not in _PSS and algorithm not in _ECDSA:
        raise ValueError(f"{algorithm} is not an algorithm NetSuite takes assertions in")
    header = {"alg": algorithm, "kid": certificate_id, "typ": "JWT"}
    return base64url_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())
