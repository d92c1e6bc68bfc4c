"""The OpenAPI document that describes the token API to the teams that consume it."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

TOKEN_PATH = "/api/v1/authentications/{identifier}/token"


def test_it_is_served_without_signing_in_as_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"]


def test_it_documents_the_token_endpoint_and_every_answer(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"][TOKEN_PATH]["get"]
    assert set(operation["responses"]) >= {"200", "401", "403", "404", "429", "500", "503"}
    assert operation["parameters"][0]["name"] == "identifier"
    token = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert token == "#/components/schemas/Token"
    assert set(document["components"]["schemas"]["Token"]["required"]) == {
        "access_token",
        "token_type",
        "expires_at",
        "expires_in",
    }
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


def test_it_names_the_bearer_security_scheme(client):
    document = client.get("/api/v1/openapi.json").json()
    (requirement,) = document["paths"][TOKEN_PATH]["get"]["security"]
    (scheme_name,) = requirement
    assert document["components"]["securitySchemes"][scheme_name] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"][scheme_name]["description"],
    }


def test_every_reference_resolves(client):
    document = client.get("/api/v1/openapi.json").json()
    text = json.dumps(document)
    for name in document["components"]["schemas"]:
        assert f'"#/components/schemas/{name}"' in text
    refs = {part.split('"')[0] for part in text.split('"$ref": "')[1:]}
    assert refs <= {f"#/components/schemas/{name}" for name in document["components"]["schemas"]}
