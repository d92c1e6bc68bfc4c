"""Private keys and tokens are encrypted at rest: the raw columns hold only Fernet tokens."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from authentications.models import AccessToken, SigningKey

pytestmark = pytest.mark.django_db


def raw_column(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")  # noqa: S608  (fixed names from the test)
        (value,) = cursor.fetchone()
    return value


def test_the_database_never_holds_pem_text_or_the_token(
    alice_client, register, create_authentication, fake_netsuite
):
    registered = register("rsa3072")
    authentication = create_authentication(registered)
    alice_client.post(f"/authentications/{authentication.identifier}/retrieve-token/")
    token = AccessToken.objects.get().value

    stored_key = raw_column(SigningKey._meta.db_table, "private_key")
    stored_token = raw_column(AccessToken._meta.db_table, "value")

    assert "PRIVATE KEY" not in stored_key
    assert registered.private_key_pem.splitlines()[1] not in stored_key
    assert token not in stored_token
    assert stored_key.startswith("gAAAAA") and stored_token.startswith("gAAAAA")
    # Yet the application reads them back.
    assert "BEGIN PRIVATE KEY" in SigningKey.objects.get().private_key


def test_a_second_key_decrypts_old_rows_and_the_first_encrypts_new_ones(
    settings, register, create_authentication
):
    create_authentication(register("p256"))
    old_key = settings.NSCONNECT_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.NSCONNECT_ENCRYPTION_KEYS = [new_key, old_key]
    assert "BEGIN PRIVATE KEY" in SigningKey.objects.get().private_key

    settings.NSCONNECT_ENCRYPTION_KEYS = [new_key]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        SigningKey.objects.get()
