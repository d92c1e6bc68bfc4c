"""Editing the credentials a token was issued for (issue 8, hole 2): the token goes with the
edit, and moving where the stored key signs is a key operation for key administrators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api import services as api_services
from authentications.models import AccessToken, AuditEvent, HttpAuthentication
from authentications.services import authentication_records, token_single_flight
from authentications.services.credential_changes import KeyOperationRefused
from tests.api.consumer import get_token
from tests.conftest import put_in_role
from tests.fake_netsuite import FakeNetSuite

pytestmark = pytest.mark.django_db


def edit_url(authentication: HttpAuthentication) -> str:
    return f"/authentications/{authentication.identifier}/edit/"


@pytest.fixture
def other_netsuite(settings: Any) -> Iterator[FakeNetSuite]:
    """A second allowlisted host: what an edited Authentication URL may point at."""
    with FakeNetSuite() as server:
        settings.NSCONNECT_TOKEN_URL_ALLOWLIST = [*settings.NSCONNECT_TOKEN_URL_ALLOWLIST, server.origin]
        yield server


@pytest.fixture
def kim(django_user_model: Any) -> Any:
    """Kim is a key administrator: Kim may rotate keys, and so move where they sign."""
    user = django_user_model.objects.create_user(username="kim", password="x")
    return put_in_role(user, "Key administrators")


@pytest.fixture
def acme_with_token(register: Any, create_authentication: Any, fake_netsuite: FakeNetSuite) -> Any:
    """Acme ERP, whose key NetSuite knows, holding a token; the fake NetSuite forgets the request."""
    registered = register("p256")
    authentication = create_authentication(registered)
    token = token_single_flight.token_get(authentication=authentication, actor="test")
    fake_netsuite.reset()
    # The fake keeps honouring the token it issued (reset() forgets the tokens it issued).
    fake_netsuite.issued_tokens.append(token.value)
    return registered, authentication, token.value


def bearer_tokens_sent(server: FakeNetSuite) -> list[str]:
    return [r.headers.get("authorization", "") for r in server.requests]


def test_editing_the_scopes_drops_the_token_so_consumers_get_one_for_the_new_scopes(
    client, alice, alice_client, acme_with_token, form_data, fake_netsuite
):
    """GIVEN Acme ERP with a token for restlets and rest_webservices, served to an API client
    WHEN alice (an integrator) narrows the scopes to restlets
    THEN the old token is gone in the same save: the detail page shows none, the audit event says
    it was dropped (without the token), and the API hands out a new token asked for restlets."""
    registered, authentication, old_token = acme_with_token
    issued = api_services.api_client_create(actor=alice, name="Orders ETL", authentications=[authentication])
    assert get_token(client, authentication.identifier, issued.key).json()["access_token"] == old_token

    response = alice_client.post(
        edit_url(authentication), form_data(registered, private_key="", scopes="restlets")
    )

    assert response.status_code == 302
    assert not AccessToken.objects.filter(authentication=authentication).exists()
    page = alice_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert "None yet" in page
    event = AuditEvent.objects.filter(action="authentication.update").get()
    assert event.details == {"changed": ["scopes"], "token_dropped": True}
    assert old_token not in str(event.details)
    client.logout()
    answer = get_token(client, authentication.identifier, issued.key)
    assert answer.status_code == 200
    assert answer.json()["access_token"] != old_token
    assert fake_netsuite.requests[-1].claims["scope"] == "restlets"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("token_url", None, "Changing the Authentication URL moves where the stored key signs"),
        ("account_id", "1234567", "Changing the Account ID moves where the stored key signs"),
        ("consumer_key", "ab" * 32, "Changing the Consumer key moves which integration record"),
    ],
)
def test_an_integrator_may_not_move_where_the_stored_key_signs(
    alice_client, acme_with_token, form_data, fake_netsuite, other_netsuite, field, value, words
):
    """GIVEN Acme ERP with a token, and a second allowlisted host
    WHEN alice (an integrator, no rotate key permission) changes the Authentication URL, the
    Account ID or the Consumer key, and saves, or presses Retrieve on the edit form
    THEN the field says it is a key operation needing the rotate key permission, the record and its
    token are as they were, and no request (assertion or token) went anywhere."""
    registered, authentication, old_token = acme_with_token
    data = form_data(registered, private_key="", **{field: value or other_netsuite.token_url})

    response = alice_client.post(edit_url(authentication), data)

    assert response.status_code == 422
    message = " ".join(response.context["form"].errors[field])
    assert words in message
    assert "needs the rotate key permission" in message
    assert words in response.content.decode().replace("&#x27;", "'")
    retrieve = alice_client.post(
        edit_url(authentication), {**data, "retrieve_token": "1"}, HTTP_HX_REQUEST="true"
    )
    assert "needs the rotate key permission" in retrieve.content.decode()
    stored = HttpAuthentication.objects.get(pk=authentication.pk)
    assert (stored.token_url, stored.account_id, stored.consumer_key) == (
        fake_netsuite.token_url,
        "",
        registered.consumer_key,
    )
    assert AccessToken.objects.get(authentication=authentication).value == old_token
    assert not AuditEvent.objects.filter(action="authentication.update").exists()
    assert fake_netsuite.requests == other_netsuite.requests == []


def test_the_service_refuses_the_move_to_any_caller_without_the_rotate_key_permission(
    alice, acme_with_token, other_netsuite
):
    """GIVEN Acme ERP with a token
    WHEN code other than the form asks authentication_records.authentication_update to change the token URL on
    behalf of alice, an integrator
    THEN it is refused with the field named, and nothing changes."""
    _registered, authentication, old_token = acme_with_token
    values = {name: getattr(authentication, name) for name in authentication_records.AUTHENTICATION_FIELDS}

    with pytest.raises(KeyOperationRefused) as refused:
        authentication_records.authentication_update(
            authentication=authentication,
            actor=alice,
            values={**values, "token_url": other_netsuite.token_url},
        )

    assert refused.value.fields == ["token_url"]
    assert HttpAuthentication.objects.get(pk=authentication.pk).token_url != other_netsuite.token_url
    assert AccessToken.objects.get(authentication=authentication).value == old_token


def test_a_key_administrator_moves_the_url_and_the_old_token_never_reaches_the_new_host(
    client, kim, acme_with_token, form_data, fake_netsuite, other_netsuite
):
    """GIVEN Acme ERP with a token from its NetSuite, and a second allowlisted host that knows the
    same key
    WHEN kim (a key administrator) points the Authentication URL at the second host and then presses
    Send test request
    THEN the save drops the token, the second host gets a fresh assertion made for it and then only
    the token it issued itself, and the first host hears nothing."""
    registered, authentication, old_token = acme_with_token
    other_netsuite.register(
        consumer_key=registered.consumer_key,
        certificate_id=registered.certificate_id,
        certificate_pem=registered.certificate_pem,
    )
    client.force_login(kim)

    response = client.post(
        edit_url(authentication), form_data(registered, private_key="", token_url=other_netsuite.token_url)
    )

    assert response.status_code == 302
    assert not AccessToken.objects.filter(authentication=authentication).exists()
    details = AuditEvent.objects.filter(action="authentication.update").get().details
    assert details == {"changed": ["token_url"], "token_dropped": True}
    answer = client.post(f"/authentications/{authentication.identifier}/test-request/", {"path": ""})
    assert answer.status_code == 200
    assert fake_netsuite.requests == []
    assert all(old_token not in header for header in bearer_tokens_sent(other_netsuite))
    token_request, record_request = other_netsuite.requests
    assert token_request.claims["aud"] == other_netsuite.token_url
    assert record_request.status == 200
    assert record_request.headers["authorization"] == f"Bearer {other_netsuite.issued_tokens[0]}"
