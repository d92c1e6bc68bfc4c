"""The OpenAPI 3.1 description of the token API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

ERROR_CODES = {
    401: (
        "unauthorized",
        "No valid API key: the header is missing or malformed, or the key is unknown or revoked.",
    ),
    403: ("forbidden", "The API key may not read this authentication."),
    404: ("not_found", "No authentication has this identifier."),
    405: ("method_not_allowed", "Only GET is allowed."),
    429: ("rate_limited", "Too many requests from this API client this minute."),
    500: ("internal_error", "nsconnect met an unexpected error; its log has the details."),
    503: ("token_unavailable", "No token can be had now; `detail` says why."),
}


def _error(status: int, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    code, description = ERROR_CODES[status]
    response: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"error": code, "detail": description},
            }
        },
    }
    if headers:
        response["headers"] = headers
    return response


def document() -> dict[str, Any]:
    no_store = {"description": "Always `no-store`.", "schema": {"type": "string", "const": "no-store"}}
    token_responses = {
        "200": {
            "description": (
                "A token valid for at least another minute, or at least 10 seconds while another "
                "request is renewing it (`expires_in` says which)."
            ),
            "headers": {"Cache-Control": no_store},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}},
        },
        "401": _error(
            401,
            {"WWW-Authenticate": {"description": '`Bearer realm="nsconnect"`', "schema": {"type": "string"}}},
        ),
        "403": _error(403),
        "404": _error(404),
        "405": _error(405),
        "429": _error(
            429,
            {
                "Retry-After": {
                    "description": "Seconds until the next minute starts.",
                    "schema": {"type": "integer"},
                }
            },
        ),
        "503": _error(
            503,
            {
                "Retry-After": {
                    "description": "Seconds until the next refresh attempt, when one is scheduled, "
                    "or a few seconds when the database was busy.",
                    "schema": {"type": "integer"},
                }
            },
        ),
        "500": _error(500),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nsconnect token API",
            "version": "1",
            "description": (
                "Hands NetSuite access tokens to the services allowed to read them, so that no service "
                "needs the private key. API keys are issued by staff at /api-clients/."
            ),
        },
        "paths": {
            "/api/v1/authentications/{identifier}/token": {
                "get": {
                    "operationId": "getToken",
                    "summary": "The current access token of an HTTP authentication",
                    "description": (
                        "Returns the current token, renewed first (once, however many callers ask "
                        "together) when it has less than a minute left; while another request is already "
                        "renewing it, a token with at least 10 seconds left is returned at once."
                    ),
                    "parameters": [
                        {
                            "name": "identifier",
                            "in": "path",
                            "required": True,
                            "description": "The authentication's identifier, as shown on its page.",
                            "schema": {"type": "string"},
                        }
                    ],
                    "security": [{"apiKey": []}],
                    "responses": token_responses,
                }
            }
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`nsc_...`) sent as `Authorization: Bearer nsc_...`.",
                }
            },
            "schemas": {
                "Token": {
                    "type": "object",
                    "required": ["access_token", "token_type", "expires_at", "expires_in"],
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string", "examples": ["Bearer"]},
                        "expires_at": {"type": "string", "format": "date-time", "description": "UTC."},
                        "expires_in": {"type": "integer", "description": "Seconds left."},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                },
            },
        },
    }
