"""A disabled authentication is not refreshed and serves no tokens: no button on the dashboard,
no rotation step and no certificate request mints or sends one."""

from __future__ import annotations

import pytest

from authentications.models import AccessToken, AuditEvent, HttpAuthentication
from authentications.netsuite import http_exchange
from authentications.netsuite.certificate_endpoint import CertificateEndpointError
from authentications.services import token_single_flight
from authentications.services.netsuite_certificates import netsuite_certificate_upload
from tests import test_rollback_and_wipe, test_rotation
from tests.test_netsuite_certificates import add_pending_key

pytestmark = pytest.mark.django_db

# Kim, the key administrator of test_rotation.py.
kim = test_rotation.kim
kim_client = test_rotation.kim_client

DISABLED = "This authentication is disabled: enable it on the edit page to retrieve tokens."


def disabled_without_token(authentication_in_state) -> HttpAuthentication:
    """A record that had a token, then was disabled and its token deleted."""
    authentication = authentication_in_state("Acme ERP", token_seconds=3600, enabled=False)
    AccessToken.objects.filter(authentication=authentication).delete()
    return authentication


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_retrieve_on_a_disabled_record_asks_netsuite_nothing(
    alice_client, authentication_in_state, fake_netsuite, htmx
):
    """GIVEN a disabled record with no token WHEN Retrieve is pressed on its page
    THEN the page says it is disabled and how to enable it, NetSuite receives nothing,
    nothing is stored and no failure is counted against the record."""
    authentication = disabled_without_token(authentication_in_state)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = alice_client.post(
        f"/authentications/{authentication.identifier}/retrieve-token/", follow=True, **headers
    )

    assert DISABLED in response.content.decode()
    assert fake_netsuite.requests == []
    assert AccessToken.objects.count() == 0
    authentication.refresh_from_db()
    assert authentication.consecutive_failures == 0


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_send_test_request_on_a_disabled_record_mints_and_sends_nothing(
    alice_client, authentication_in_state, fake_netsuite, htmx
):
    """GIVEN a disabled record with no token WHEN "Send test request" is pressed
    THEN the page says it is disabled; NetSuite receives no token request and no bearer token."""
    authentication = disabled_without_token(authentication_in_state)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = alice_client.post(
        f"/authentications/{authentication.identifier}/test-request/", {"path": ""}, **headers
    )

    assert DISABLED in response.content.decode()
    assert fake_netsuite.requests == []
    assert AccessToken.objects.count() == 0


def test_a_disabled_record_does_not_send_even_a_stored_valid_token(
    alice_client, authentication_in_state, fake_netsuite
):
    """GIVEN a disabled record that still holds a valid token WHEN "Send test request" is pressed
    THEN the stored token is not sent anywhere."""
    authentication = authentication_in_state("Acme ERP", token_seconds=3600, enabled=False)

    response = alice_client.post(
        f"/authentications/{authentication.identifier}/test-request/", {"path": ""}, HTTP_HX_REQUEST="true"
    )

    assert DISABLED in response.content.decode()
    assert fake_netsuite.requests == []


def test_token_get_refuses_a_disabled_record_for_every_caller(authentication_in_state, fake_netsuite):
    """GIVEN a disabled record WHEN anything asks single flight for a token (the rotation
    wizard's fresh token, the certificate endpoint's bearer token, the command line)
    THEN it is refused with kind "disabled" before anything is asked, and nothing is audited."""
    authentication = disabled_without_token(authentication_in_state)
    before = AuditEvent.objects.count()

    with pytest.raises(http_exchange.TokenRequestError) as raised:
        token_single_flight.token_get(authentication=authentication, actor="test", fresh=True)

    assert (raised.value.kind, raised.value.message) == ("disabled", DISABLED)
    assert fake_netsuite.requests == []
    assert AuditEvent.objects.count() == before


def test_the_certificate_endpoint_gets_no_bearer_token_from_a_disabled_record(
    alice, register, create_authentication, fake_netsuite
):
    """GIVEN a disabled record with a pending key and no token
    WHEN its certificate is to be uploaded to NetSuite
    THEN no token is minted for the upload, and the refusal says the record is disabled."""
    authentication = create_authentication(
        register("p256"), netsuite_role_id="1031", netsuite_entity_id="5", enabled=""
    )
    pending = add_pending_key(authentication)

    with pytest.raises(CertificateEndpointError) as raised:
        netsuite_certificate_upload(
            authentication=authentication, signing_key=pending, actor=alice, ip_address=None
        )

    assert DISABLED in raised.value.message
    assert fake_netsuite.requests == []


def test_a_record_disabled_after_it_was_read_is_refused_before_netsuite_is_asked(
    authentication_in_state, fake_netsuite
):
    """GIVEN a caller holding the record as it was read while enabled (say, waiting for another
    caller's request) WHEN it is disabled meanwhile and the caller goes on to ask for a token
    THEN single flight reads it again before asking NetSuite, and refuses."""
    authentication = authentication_in_state("Acme ERP")
    HttpAuthentication.objects.filter(pk=authentication.pk).update(enabled=False)
    assert authentication.enabled  # what the caller read before

    with pytest.raises(http_exchange.TokenRequestError) as raised:
        token_single_flight.token_get(authentication=authentication, actor="test")

    assert raised.value.kind == "disabled"
    assert fake_netsuite.requests == []


WIZARD_REFUSES = "This authentication is disabled, so nsconnect asks NetSuite nothing for it"


def test_the_rotation_wizard_verifies_nothing_for_a_disabled_record(
    kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a pending key with its Certificate ID on a record that is then disabled
    WHEN a key administrator presses Verify THEN the wizard says the record is disabled,
    NetSuite receives nothing and the key stays unverified."""
    authentication = create_authentication(register("p256"))
    pending = test_rotation.pending_with_certificate_id(kim_client, authentication, fake_netsuite)
    HttpAuthentication.objects.filter(pk=authentication.pk).update(enabled=False)
    fake_netsuite.reset()

    response = kim_client.post(
        test_rotation.url(authentication, "verify"), {"signing_key": pending.pk}, follow=True
    )

    assert WIZARD_REFUSES in response.content.decode()
    assert fake_netsuite.requests == []
    pending.refresh_from_db()
    assert pending.verified_at is None


def test_a_disabled_record_is_not_rolled_back(
    kim, kim_client, register, create_authentication, fake_netsuite
):
    """GIVEN a rotated record with its previous key still offered for rollback, then disabled
    WHEN a key administrator presses Roll back THEN nothing is asked of NetSuite and the keys
    stay as they were."""
    authentication = create_authentication(register("p256"))
    old_key = test_rollback_and_wipe.rotated(authentication, fake_netsuite, kim)
    HttpAuthentication.objects.filter(pk=authentication.pk).update(enabled=False)
    fake_netsuite.reset()

    response = kim_client.post(
        test_rotation.url(authentication, "rollback"), {"confirmed": "yes"}, follow=True
    )

    assert WIZARD_REFUSES in response.content.decode()
    assert fake_netsuite.requests == []
    old_key.refresh_from_db()
    assert old_key.state == "retired"
