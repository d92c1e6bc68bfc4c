"""Rows the hot paths write by primary key (authentications.statements.insert_row, update_row):
what they store is what Model.save() stores, in one statement each; and instances they build
from a row they read (instance_from_row): the instance Model.from_db builds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from authentications.models import AccessToken, AuditEvent, HttpAuthentication
from authentications.statements import insert_row, instance_from_row, update_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme() -> HttpAuthentication:
    return HttpAuthentication.objects.create(
        name="Acme ERP",
        identifier="acme-erp",
        jwt_algorithm="ES256",
        consumer_key="0" * 64,
        scopes="restlets",
        token_url="https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
    )


def test_an_audit_event_is_stored_as_create_stores_it(acme, alice):
    """GIVEN an audit event with a user, an address and details WHEN it is inserted THEN it has
    a primary key and its default time, and reads back as one objects.create() made."""
    fields = {
        "actor": alice,
        "actor_label": "alice",
        "action": AuditEvent.Action.TOKEN_RETRIEVED,
        "authentication": acme,
        "authentication_name": acme.name,
        "ip_address": "2001:db8::1",
        "details": {"certificate_id": "k" * 43, "nested": {"n": 1}},
    }
    before = timezone.now()
    inserted = AuditEvent(**fields)

    insert_row(inserted)
    created = AuditEvent.objects.create(**fields)

    assert inserted.pk is not None and inserted.pk != created.pk
    assert not inserted._state.adding
    assert before <= inserted.created_at <= created.created_at
    columns = [
        "actor",
        "actor_label",
        "action",
        "authentication",
        "authentication_name",
        "ip_address",
        "details",
    ]
    stored = AuditEvent.objects.filter(pk__in=[inserted.pk, created.pk]).order_by("pk").values(*columns)
    assert stored[0] == stored[1]


def test_a_token_is_stored_encrypted_and_updated_by_its_key(acme):
    """GIVEN a token WHEN it is inserted and then written again by its primary key THEN its
    column holds ciphertext, never the token, and the model reads the newest value; a write
    to a primary key no row has writes nothing."""
    now = timezone.now()
    token = AccessToken(authentication=acme, value="first-token", obtained_at=now, expires_at=now)
    insert_row(token)
    token.value, token.expires_at = "second-token", now + dt.timedelta(hours=1)

    assert update_row(token, ["value", "expires_at"]) is True
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM authentications_accesstoken WHERE id = %s", [token.pk])
        (column,) = cursor.fetchone()
    assert "token" not in column
    stored = AccessToken.objects.get(pk=token.pk)
    assert (stored.value, stored.expires_at) == ("second-token", now + dt.timedelta(hours=1))
    missing = AccessToken(pk=token.pk + 1000, authentication=acme, value="x", obtained_at=now, expires_at=now)
    assert update_row(missing, ["value"]) is False
    assert not AccessToken.objects.filter(pk=token.pk + 1000).exists()


def test_each_write_is_one_statement_and_only_its_fields(acme):
    """GIVEN an authentication WHEN two of its fields are written THEN one statement ran, and
    a field not named keeps its stored value though the instance holds another."""
    acme.last_error, acme.name = "it failed", "Not saved"

    with CaptureQueriesContext(connection) as captured:
        update_row(acme, ["last_error"])

    assert len(captured.captured_queries) == 1
    stored = HttpAuthentication.objects.get(pk=acme.pk)
    assert (stored.last_error, stored.name) == ("it failed", "Acme ERP")


def test_a_given_primary_key_is_the_rows(acme):
    """GIVEN a token whose row was deleted after its id was read WHEN it is inserted with that
    id THEN the row has that id (as save() puts back a row by its primary key)."""
    now = timezone.now()
    token = AccessToken(pk=424242, authentication=acme, value="token", obtained_at=now, expires_at=now)

    insert_row(token)

    assert AccessToken.objects.get(pk=424242).value == "token"


def test_each_list_of_fields_has_its_own_statement(acme):
    """GIVEN one field of a model written WHEN another field of the same model is written next
    THEN that one is written, not the first again (statements are kept per list of fields)."""
    acme.last_error = "first"
    update_row(acme, ["last_error"])
    acme.last_error, acme.consecutive_failures = "not written", 7

    update_row(acme, ["consecutive_failures"])

    stored = HttpAuthentication.objects.get(pk=acme.pk)
    assert (stored.last_error, stored.consecutive_failures) == ("first", 7)


def test_an_unsaved_related_row_is_refused_not_stored_as_null(acme):
    """GIVEN an audit event for an authentication not saved yet WHEN it is inserted THEN it is
    refused, as save() refuses it, rather than stored without its authentication."""
    unsaved = HttpAuthentication(name="Unsaved")
    event = AuditEvent(actor_label="alice", action=AuditEvent.Action.CREATE, authentication=unsaved)

    with pytest.raises(ValueError, match="unsaved related object"):
        insert_row(event)
    assert not AuditEvent.objects.exists()


def state(instance: Any) -> tuple[Any, ...]:
    values = {name: value for name, value in vars(instance).items() if name != "_state"}
    return type(instance), values, instance._state.db, instance._state.adding, instance.get_deferred_fields()


@pytest.mark.parametrize("names", [["id", "name", "token_url"], "all"])
def test_an_instance_is_the_one_from_db_builds(acme, names):
    """GIVEN a row read whole or in part WHEN an instance is built from it THEN it holds the
    same values, database and deferred fields as Model.from_db's, saves as an existing row,
    and reads a field left unread from the database."""
    fields = HttpAuthentication._meta.concrete_fields
    attnames = [field.attname for field in fields] if names == "all" else names
    values = [getattr(acme, attname) for attname in attnames]

    built = instance_from_row(HttpAuthentication, "default", attnames, values)

    assert state(built) == state(HttpAuthentication.from_db("default", attnames, values))
    assert built == acme
    assert built.identifier == "acme-erp"  # read now if it was left unread
    built.name = "Acme ERP (EU)"
    built.save(update_fields=["name"])
    assert HttpAuthentication.objects.get(pk=acme.pk).name == "Acme ERP (EU)"


def test_a_model_with_init_receivers_is_built_by_from_db(acme):
    """GIVEN a post_init receiver for the model WHEN an instance is built from a row THEN the
    receiver sees it, as it would for any instance the ORM reads."""
    seen: list[Any] = []

    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=HttpAuthentication)
    try:
        built = instance_from_row(HttpAuthentication, "default", ["id", "name"], [acme.pk, acme.name])
    finally:
        post_init.disconnect(receiver, sender=HttpAuthentication)

    assert seen == [built]
    assert state(built) == state(HttpAuthentication.from_db("default", ["id", "name"], [acme.pk, acme.name]))
