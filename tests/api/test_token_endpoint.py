"""GET /api/v1/authentications/<identifier>/token, as a consuming service sees it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from api import services
from authentications.models import AccessToken
from tests.api.consumer import get_token, token_url

pytestmark = pytest.mark.django_db


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def assert_json_not_cached(response) -> None:
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"


def test_it_hands_out_the_token_netsuite_issued(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    before = timezone.now()
    response = get_token(client, "acme-erp", key)
    assert response.status_code == 200
    assert_json_not_cached(response)
    body = response.json()
    assert sorted(body) == ["access_token", "expires_at", "expires_in", "token_type"]
    assert body["access_token"] == fake_netsuite.issued_tokens[0]
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    assert 3590 <= body["expires_in"] <= 3600
    expires_at = parse_time(body["expires_at"])
    assert expires_at.utcoffset() == dt.timedelta(0)
    # expires_at and expires_in tell the same story, to the second.
    assert abs((expires_at - before).total_seconds() - body["expires_in"]) <= 2


def test_a_second_call_reuses_the_token_without_asking_netsuite(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    first = get_token(client, "acme-erp", key).json()
    second = get_token(client, "acme-erp", key).json()
    assert second["access_token"] == first["access_token"]
    assert len(fake_netsuite.requests) == 1


def test_a_token_with_under_a_minute_left_is_renewed(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    first = get_token(client, "acme-erp", key).json()
    with time_machine.travel(parse_time(first["expires_at"]) - dt.timedelta(seconds=30), tick=False):
        second = get_token(client, "acme-erp", key).json()
    assert len(fake_netsuite.requests) == 2
    assert second["access_token"] == fake_netsuite.issued_tokens[1] != first["access_token"]
    assert second["expires_in"] >= 3590


def test_a_token_with_more_than_a_minute_left_is_kept(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    first = get_token(client, "acme-erp", key).json()
    with time_machine.travel(parse_time(first["expires_at"]) - dt.timedelta(seconds=90), tick=False):
        second = get_token(client, "acme-erp", key).json()
    assert second["access_token"] == first["access_token"]
    assert 89 <= second["expires_in"] <= 90
    assert len(fake_netsuite.requests) == 1


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Token nsc_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "Bearer",
        "Bearer not-an-nsconnect-key",
        "Bearer nsc_short",
        "Bearer nsc_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ],
    ids=["no header", "empty", "basic", "wrong scheme", "no key", "foreign key", "short key", "unknown key"],
)
def test_without_a_valid_key_it_answers_401(client, acme, issue, fake_netsuite, authorization):
    issue(acme)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get(token_url("acme-erp"), headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_json_not_cached(response)
    assert response.json()["error"] == "unauthorized"
    assert fake_netsuite.requests == []


def test_a_key_with_the_right_prefix_but_wrong_rest_is_refused(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    forged = key[:12] + ("A" if key[12] != "A" else "B") + key[13:]
    assert get_token(client, "acme-erp", forged).status_code == 401


def test_the_scheme_is_case_insensitive(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    response = client.get(token_url("acme-erp"), headers={"Authorization": f"bearer {key}"})
    assert response.status_code == 200


def test_a_revoked_key_is_refused(client, acme, issue, sam, fake_netsuite):
    issued = issue(acme)
    assert get_token(client, "acme-erp", issued.key).status_code == 200
    services.api_client_revoke(client=issued.client, actor=sam)
    response = get_token(client, "acme-erp", issued.key)
    assert response.status_code == 401
    assert response.json()["detail"] == "This API key is unknown or revoked."


def test_a_key_may_not_read_an_authentication_it_was_not_given(
    client, acme, issue, register, create_authentication, fake_netsuite
):
    create_authentication(register("p384"), name="Beta WMS")
    key = issue(acme).key
    response = get_token(client, "beta-wms", key)
    assert response.status_code == 403
    assert_json_not_cached(response)
    assert response.json()["error"] == "forbidden"
    assert fake_netsuite.requests == []


def test_an_unknown_identifier_is_404(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    response = get_token(client, "no-such-thing", key)
    assert response.status_code == 404
    assert_json_not_cached(response)
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("identifier", ["acme%00erp", "acme%20erp", "acm%C3%A9-erp"])
def test_an_identifier_no_authentication_can_have_is_404(client, acme, issue, fake_netsuite, identifier):
    """GIVEN a valid key WHEN it asks for an identifier that is not a slug (a NUL, a space, a
    letter outside ASCII), which the database would refuse to compare THEN the answer is a JSON
    404, not a 503 saying the database is busy."""
    key = issue(acme).key
    response = client.get(
        f"/api/v1/authentications/{identifier}/token", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 404, response.content
    assert_json_not_cached(response)
    assert response.json()["error"] == "not_found"


def test_an_unknown_identifier_is_not_revealed_without_a_key(client, acme):
    assert get_token(client, "no-such-thing", None).status_code == 401


def test_other_paths_under_the_api_answer_json_too(client):
    response = client.get("/api/v1/authentications/acme-erp/token/")
    assert response.status_code == 404
    assert_json_not_cached(response)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_get_is_allowed(client, acme, issue, fake_netsuite, method):
    key = issue(acme).key
    response = get_token(client, "acme-erp", key, method=method)
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert_json_not_cached(response)
    assert response.json()["error"] == "method_not_allowed"
    assert fake_netsuite.requests == []


def test_it_never_sends_a_service_to_the_sign_in_page(client, alice_client, acme, fake_netsuite):
    # Neither anonymous nor with a dashboard session: a service gets 401 JSON, never a redirect.
    for caller in (client, alice_client):
        response = caller.get(token_url("acme-erp"))
        assert response.status_code == 401
        assert "Location" not in response


def test_when_netsuite_refuses_the_credentials_it_answers_503_and_stops_asking(
    client, acme, issue, fake_netsuite
):
    key = issue(acme).key
    fake_netsuite.fail_next("invalid_client")
    response = get_token(client, "acme-erp", key)
    assert response.status_code == 503
    assert_json_not_cached(response)
    body = response.json()
    assert body["error"] == "token_unavailable"
    assert "NetSuite did not accept the credentials (invalid_client)" in body["detail"]
    assert len(fake_netsuite.requests) == 1

    again = get_token(client, "acme-erp", key)
    assert again.status_code == 503
    assert "retries are stopped until the record is fixed" in again.json()["detail"]
    assert "Retry-After" not in again
    assert len(fake_netsuite.requests) == 1


def test_while_refresh_backs_off_it_answers_503_without_asking_netsuite(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    fake_netsuite.fail_next("service_unavailable")
    response = get_token(client, "acme-erp", key)
    assert response.status_code == 503
    assert "NetSuite could not answer (HTTP 503)" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 66

    again = get_token(client, "acme-erp", key)
    assert again.status_code == 503
    assert "the next attempt is at" in again.json()["detail"]
    assert len(fake_netsuite.requests) == 1


def test_a_disabled_authentication_serves_no_token(client, acme, issue, fake_netsuite):
    key = issue(acme).key
    acme.enabled = False
    acme.save()
    response = get_token(client, "acme-erp", key)
    assert response.status_code == 503
    assert response.json()["detail"] == "This authentication is disabled."
    assert fake_netsuite.requests == []
    assert AccessToken.objects.count() == 0
