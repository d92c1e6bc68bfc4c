"""A token is stored only for the credentials it was minted for: an edit of the token URL,
consumer key, scopes or active signing key while NetSuite was answering discards it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import assertion, http_exchange, token_request
from authentications.services import token_attempt, token_single_flight

pytestmark = pytest.mark.django_db(transaction=True)


def change_consumer_key(authentication: HttpAuthentication) -> None:
    HttpAuthentication.objects.filter(pk=authentication.pk).update(consumer_key="f" * 64)


def change_scopes(authentication: HttpAuthentication) -> None:
    HttpAuthentication.objects.filter(pk=authentication.pk).update(scopes="restlets")


def change_token_url(authentication: HttpAuthentication) -> None:
    other = authentication.token_url.replace("/services/", "/other/services/")
    HttpAuthentication.objects.filter(pk=authentication.pk).update(token_url=other)


def retire_the_active_key(authentication: HttpAuthentication) -> None:
    SigningKey.objects.filter(authentication=authentication).update(state=SigningKey.State.RETIRED)


@pytest.mark.parametrize(
    "edit",
    [change_consumer_key, change_scopes, change_token_url, retire_the_active_key],
    ids=lambda f: f.__name__,
)
def test_a_token_minted_for_credentials_edited_meanwhile_is_discarded(
    register, create_authentication, fake_netsuite, monkeypatch, edit: Any
):
    """GIVEN a retrieval under way
    WHEN the record's credentials are edited before NetSuite's answer is stored
    THEN the token is not stored, the caller is told why, and the edit is not counted as a
    failure of the new credentials (no back-off)."""
    authentication = create_authentication(register("p256"))
    real_request_token = token_request.request_token

    def edited_while_asking(
        credentials: assertion.Credentials, now: dt.datetime
    ) -> token_request.TokenResponse:
        answer = real_request_token(credentials, now)
        edit(authentication)
        return answer

    monkeypatch.setattr(token_request, "request_token", edited_while_asking)

    with pytest.raises(http_exchange.TokenRequestError) as raised:
        token_attempt.token_retrieve(authentication=authentication, actor="test")

    assert raised.value.kind == "credentials_changed"
    assert "credentials changed while the token was being retrieved" in raised.value.message
    assert len(fake_netsuite.issued_tokens) == 1
    assert AccessToken.objects.count() == 0
    row = HttpAuthentication.objects.get(pk=authentication.pk)
    assert (row.consecutive_failures, row.next_attempt_at, row.retries_stopped) == (0, None, False)
    event = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_FAILED).get()
    assert event.details["kind"] == "credentials_changed"


def test_after_the_edit_the_next_retrieval_stores_a_token_for_the_new_credentials(
    register, create_authentication, fake_netsuite, monkeypatch
):
    """GIVEN a token discarded because the scopes changed meanwhile
    WHEN the token is asked for again THEN one is stored, minted for the new scopes."""
    authentication = create_authentication(register("p256"))
    real_request_token = token_request.request_token

    def edited_while_asking(
        credentials: assertion.Credentials, now: dt.datetime
    ) -> token_request.TokenResponse:
        monkeypatch.setattr(token_request, "request_token", real_request_token)
        answer = real_request_token(credentials, now)
        change_scopes(authentication)
        return answer

    monkeypatch.setattr(token_request, "request_token", edited_while_asking)
    with pytest.raises(http_exchange.TokenRequestError):
        token_single_flight.token_get(authentication=authentication, actor="test")

    authentication.refresh_from_db()
    token = token_single_flight.token_get(authentication=authentication, actor="test")

    assert token.value == fake_netsuite.issued_tokens[-1]
    assert fake_netsuite.requests[-1].claims["scope"] == "restlets"
