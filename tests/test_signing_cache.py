"""The signing key as a token request loads it (issue 12): a cached load that serves only the
private key it was loaded from and forgets keys left unused; the assertion it signs is one
another JOSE library (jwcrypto) accepts, for every kind of key NetSuite takes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk, jws
from jwt.exceptions import InvalidKeyError

from authentications import fields
from authentications.keys import loaded_keys
from authentications.netsuite import assertion
from tests import keyfactory


def public_der(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_a_private_key_changed_under_the_same_signing_key_is_never_served_from_the_cache():
    """GIVEN a signing key whose private key was loaded (and cached) WHEN the stored private key
    is another one under the same signing key id and certificate fingerprint THEN signing
    uses the new one, not the one loaded before."""
    first, second = keyfactory.private_key("p256", 1), keyfactory.private_key("p256", 2)
    cache_key = (991, "f" * 64)
    loaded_keys.forget_loaded_key(cache_key)

    before = loaded_keys.load_stored_private_key(cache_key, keyfactory.private_pem(first))
    after = loaded_keys.load_stored_private_key(cache_key, keyfactory.private_pem(second))

    assert public_der(before) == public_der(first)
    assert public_der(after) == public_der(second)
    loaded_keys.forget_loaded_key(cache_key)


def test_a_stored_ciphertext_is_decrypted_once_and_only_that_ciphertext_is_served(monkeypatch):
    """GIVEN a private key read as its column stores it (the refresh) WHEN it is signed with
    again THEN it is not decrypted again; WHEN the column holds another ciphertext under the
    same signing key id and fingerprint (another key, or the same re-encrypted) THEN that one
    is decrypted and its own key served."""
    first, second = keyfactory.private_key("p256", 4), keyfactory.private_key("p256", 5)
    cache_key = (994, "c" * 64)
    loaded_keys.forget_loaded_key(cache_key)
    decrypted = []
    decrypt = fields.decrypt

    def counted(text: str, fernet: Any = None) -> str:
        decrypted.append(text)
        return decrypt(text, fernet)

    monkeypatch.setattr(fields, "decrypt", counted)
    stored_first = fields.encrypt(keyfactory.private_pem(first))

    loaded = loaded_keys.load_stored_ciphertext(cache_key, stored_first)
    assert loaded_keys.load_stored_ciphertext(cache_key, stored_first) is loaded
    assert decrypted == [stored_first]
    assert public_der(loaded) == public_der(first)

    stored_second = fields.encrypt(keyfactory.private_pem(second))
    assert public_der(loaded_keys.load_stored_ciphertext(cache_key, stored_second)) == public_der(second)
    reencrypted = fields.encrypt(keyfactory.private_pem(first))
    assert public_der(loaded_keys.load_stored_ciphertext(cache_key, reencrypted)) == public_der(first)
    assert decrypted == [stored_first, stored_second, reencrypted]
    loaded_keys.forget_loaded_key(cache_key)


def test_a_ciphertext_is_served_again_only_under_the_keys_that_opened_it(monkeypatch):
    """GIVEN the encryption keys changing while a stored key is being loaded WHEN it is loaded
    THEN it is opened with, and remembered under, the keys read first; under the new ones it
    is decrypted again, and does not open."""
    from cryptography.fernet import Fernet, MultiFernet

    opening, other = Fernet.generate_key(), Fernet.generate_key()
    pem = keyfactory.private_pem(keyfactory.private_key("p256", 6))
    ciphertext = Fernet(opening).encrypt(pem.encode()).decode()
    calls = []

    def present_keys() -> MultiFernet:  # the opening keys first, another list from then on
        calls.append(1)
        return MultiFernet([Fernet(opening if len(calls) == 1 else other)])

    monkeypatch.setattr(fields, "get_fernet", present_keys)
    cache_key = (995, "b" * 64)
    loaded_keys.forget_loaded_key(cache_key)

    assert loaded_keys.load_stored_ciphertext(cache_key, ciphertext) is not None
    with pytest.raises(fields.DecryptionError):
        loaded_keys.load_stored_ciphertext(cache_key, ciphertext)
    loaded_keys.forget_loaded_key(cache_key)


@pytest.mark.django_db
def test_a_token_retrieved_on_demand_reads_its_key_in_one_statement_and_decrypts_it_once(
    register, create_authentication, monkeypatch
):
    """GIVEN a saved authentication WHEN its token is retrieved twice on demand, through the
    single flight the token API and the Retrieve button use THEN each attempt reads the key,
    its private key included, in one statement, and the private key is decrypted by the
    first only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from authentications.models import AccessToken
    from authentications.services import token_single_flight

    authentication = create_authentication(register("p256"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT private_key FROM authentications_signingkey WHERE authentication_id = %s",
            [authentication.pk],
        )
        (ciphertext,) = cursor.fetchone()
    decrypted: list[str] = []
    decrypt = fields.decrypt

    def counted(text: str, fernet: Any = None) -> str:
        decrypted.append(text)
        return decrypt(text, fernet)

    monkeypatch.setattr(fields, "decrypt", counted)
    for attempt in range(2):
        AccessToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        with CaptureQueriesContext(connection) as queries:
            token_single_flight.token_get(authentication=authentication, actor="test")
        reading = [query["sql"] for query in queries if '"private_key"' in query["sql"]]
        assert len(reading) == 1 and '"certificate_id"' in reading[0], attempt

    assert decrypted.count(ciphertext) == 1


def test_a_loaded_key_left_unused_is_dropped(monkeypatch):
    """GIVEN a private key loaded for signing WHEN it is not used for LOADED_KEY_IDLE_SECONDS
    THEN the process no longer keeps it: the next request loads it again from the stored
    text (the rotated key is wiped days later; no process holds it by then)."""
    pem = keyfactory.private_pem(keyfactory.private_key("p256", 3))
    cache_key = (992, "e" * 64)
    clock = [loaded_keys.time.monotonic()]
    monkeypatch.setattr(loaded_keys.time, "monotonic", lambda: clock[0])
    loaded = loaded_keys.load_stored_private_key(cache_key, pem)

    clock[0] += loaded_keys.LOADED_KEY_IDLE_SECONDS - 1
    assert loaded_keys.load_stored_private_key(cache_key, pem) is loaded  # in use: kept
    # A second over: exactly the limit later is a float subtraction a hair under it, at times.
    clock[0] += loaded_keys.LOADED_KEY_IDLE_SECONDS + 1
    assert loaded_keys.load_stored_private_key((993, "d" * 64), pem) is not loaded  # another key's use
    assert loaded_keys.load_stored_private_key(cache_key, pem) is not loaded
    loaded_keys.forget_loaded_key(cache_key)
    loaded_keys.forget_loaded_key((993, "d" * 64))


@pytest.mark.parametrize(("kind", "algorithm"), list(keyfactory.ALGORITHM_FOR_KIND.items()))
def test_an_assertion_is_a_jws_another_library_verifies(kind, algorithm):
    """GIVEN credentials with each kind of key NetSuite takes WHEN an assertion is built THEN
    jwcrypto verifies its signature with the public key, and its header and claims are
    those NETSUITE.md section 2 lists."""
    key = keyfactory.private_key(kind)
    credentials = assertion.Credentials(
        consumer_key="c" * 64,
        certificate_id="k" * 43,
        algorithm=algorithm,
        scopes=["restlets", "rest_webservices"],
        token_url="https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
        private_key=key,
    )
    now = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)

    token = jws.JWS()
    token.deserialize(assertion.build_assertion(credentials, now))
    public = jwk.JWK.from_pem(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    token.verify(public, alg=algorithm)

    assert token.jose_header == {"typ": "JWT", "alg": algorithm, "kid": "k" * 43}
    claims = json.loads(token.payload)
    assert claims["iss"] == "c" * 64
    assert claims["scope"] == "restlets,rest_webservices"
    assert claims["aud"] == credentials.token_url
    assert claims["exp"] - claims["iat"] == assertion.ASSERTION_LIFETIME_SECONDS
    assert claims["iat"] == int(now.timestamp())


def test_an_assertion_is_written_as_pyjwt_writes_one():
    """GIVEN an assertion built here WHEN its header and claims are compared with what
    `jwt.encode` writes for the same claims and key THEN they are the same bytes (only the
    signature differs: ECDSA and PSS are randomised)."""
    import jwt

    key = keyfactory.private_key("p384")
    credentials = assertion.Credentials(
        consumer_key="c" * 64,
        certificate_id="k" * 43,
        algorithm="ES384",
        scopes=["restlets"],
        token_url="https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
        private_key=key,
    )
    built = assertion.build_assertion(credentials, dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC))
    header, claims, _ = built.split(".")
    same_claims = json.loads(jwt.utils.base64url_decode(claims))
    pyjwt = jwt.encode(same_claims, key, algorithm="ES384", headers={"typ": "JWT", "kid": "k" * 43})

    assert pyjwt.split(".")[:2] == [header, claims]
    decoded = jwt.decode(
        built,
        key.public_key(),
        algorithms=["ES384"],
        audience=credentials.token_url,
        options={"verify_exp": False},
    )
    assert decoded == same_claims


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa2048", "ES256"), ("p384", "ES256"), ("p256", "PS256")])
def test_a_key_of_another_kind_than_the_algorithm_signs_nothing(kind, algorithm):
    """GIVEN a key that is not of the algorithm's kind (or curve) WHEN an assertion is built
    THEN it is refused, as `jwt.encode` refuses it, rather than signed wrongly."""
    credentials = assertion.Credentials(
        consumer_key="c" * 64,
        certificate_id="k" * 43,
        algorithm=algorithm,
        scopes=["restlets"],
        token_url="https://1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
        private_key=keyfactory.private_key(kind),
    )

    with pytest.raises((InvalidKeyError, TypeError)):
        assertion.build_assertion(credentials, dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC))
