"""How a consuming service calls the token API, for the tests to read like the service."""

from __future__ import annotations

from typing import Any


def token_url(identifier: str) -> str:
    return f"/api/v1/authentications/{identifier}/token"


def get_token(client: Any, identifier: str, key: str | None, method: str = "get") -> Any:
    """What a consuming service does: ask for a token with its API key."""
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return getattr(client, method)(token_url(identifier), headers=headers)
