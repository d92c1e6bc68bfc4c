"""Secrets taken out of the certificate endpoint's answers before they are shown or kept in
the audit trail: the bearer token wherever it appears, fields named like a secret, any JWT
and any private key PEM.
"""

from __future__ import annotations

import re
from typing import Any

# Field names whose values are secrets whatever they hold: shown as SCRUBBED, never as they came.
SECRET_FIELD = re.compile(
    r"token|secret|password|passphrase|assertion|private|credential|api_?key|authorization", re.I
)
SCRUBBED = "[removed]"
# A JWT (a NetSuite access token, an assertion) starts with the base64url of '{"'.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_PRIVATE_KEY_PEM = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
)


def scrub(value: Any, *, access_token: str = "") -> Any:
    """A copy of an answer with its secrets removed: fields named like a token, key, secret or
    assertion, any JWT, any private key PEM, and the bearer token wherever it appears."""
    if isinstance(value, dict):
        return {
            key: SCRUBBED if SECRET_FIELD.search(str(key)) else scrub(item, access_token=access_token)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scrub(item, access_token=access_token) for item in value]
    if isinstance(value, str):
        return scrub_text(value, access_token=access_token)
    return value


def scrub_text(text: str, *, access_token: str = "") -> str:
    """Text with the bearer token, any JWT and any private key PEM replaced."""
    if access_token:
        text = text.replace(access_token, "[token]")
    return _PRIVATE_KEY_PEM.sub(SCRUBBED, _JWT.sub(SCRUBBED, text))


def replace_token(value: Any, access_token: str) -> Any:
    """A copy of a parsed answer with only the bearer token replaced, the rest as it came."""
    if not access_token:
        return value
    if isinstance(value, dict):
        return {key: replace_token(item, access_token) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_token(item, access_token) for item in value]
    if isinstance(value, str):
        return value.replace(access_token, "[token]")
    return value
