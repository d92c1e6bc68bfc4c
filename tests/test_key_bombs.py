"""Key bombs: a pasted key whose encryption or size would make OpenSSL spend seconds of CPU or
gigabytes of memory is refused, in milliseconds, with a message at the field."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.files.uploadedfile import SimpleUploadedFile

from authentications.keys import limits, private_keys
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from tests import craftedkeys, keyfactory

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"
HOW_TO_EXPORT = "openssl pkcs8 -topk8 -nocrypt"


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Records every step that pays a bomb's cost: OpenSSL loading a key (its RSA check, a DSA
    key's public key) or a passphrase stretched (PBKDF2, scrypt). Each of these cost 1 to 30 s
    on these keys; a refusal before all of them is what keeps the refusal in milliseconds
    (measured where speed is measured: make bench, not here)."""
    seen: list[str] = []
    for module, name in (
        (serialization, "load_pem_private_key"),
        (serialization, "load_der_private_key"),
        (limits, "decrypt_private_key"),
    ):
        original = getattr(module, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            seen.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return seen


def post_unopened(client, data, opened: list[str], *, allowed: tuple[str, ...] = ()) -> Any:
    """Post the form; the bomb in it must be refused before any costly step began (but those
    `allowed`: decrypting a key whose encryption costs what OpenSSL's defaults do)."""
    opened.clear()  # the fake NetSuite and the fixtures load keys too
    response = client.post(NEW, data)
    paid = [step for step in opened if step not in allowed]
    assert paid == [], f"the key was opened before it was refused: {paid}"
    return response


def assert_refused(response, field: str, *fragments: str) -> None:
    """The page names the problem at its field and stores nothing."""
    assert response.status_code == 422
    errors = " ".join(response.context["form"].errors.get(field, []))
    for fragment in fragments:
        assert fragment in errors, f"{fragment!r} not in {field} errors: {errors!r}"
    assert HttpAuthentication.objects.count() == 0
    assert SigningKey.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.fixture
def full_checks(monkeypatch) -> list[str]:
    """Records every time OpenSSL is asked to load a key with its full (slow) RSA check.
    Clear it just before the step under test: the fake NetSuite loads keys too."""
    seen: list[str] = []
    for name in ("load_pem_private_key", "load_der_private_key"):
        original = getattr(serialization, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            if not kwargs.get("unsafe_skip_rsa_key_validation"):
                seen.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(serialization, name, spy)
    return seen


def test_it_refuses_a_key_encrypted_with_scrypt_n_2_22_in_milliseconds(
    alice_client, form_data, register, opened
):
    """GIVEN a PKCS#8 key encrypted with scrypt N=2^22, r=8 (4 GiB and 18 s to open)
    WHEN it is posted with a passphrase
    THEN it is refused at once, saying how to export or re-encrypt it."""
    bomb = craftedkeys.unopenable(craftedkeys.scrypt_parameters(2**22, 8, 1, secrets.token_bytes(16)))
    data = form_data(register("p256"), private_key=bomb, private_key_passphrase="s3cret")
    response = post_unopened(alice_client, data, opened)
    assert_refused(response, "private_key", "scrypt N=4,194,304, r=8", "4,096 MiB", HOW_TO_EXPORT)


def test_it_refuses_a_key_encrypted_with_20_million_pbkdf2_rounds_in_milliseconds(
    alice_client, form_data, register, opened
):
    """GIVEN a PKCS#8 key whose passphrase is stretched over 20,000,000 PBKDF2 rounds (2.3 s)
    WHEN it is posted with a passphrase
    THEN it is refused at once, naming the rounds and OpenSSL's default."""
    bomb = craftedkeys.unopenable(craftedkeys.pbkdf2_parameters(20_000_000, secrets.token_bytes(16)))
    data = form_data(register("p256"), private_key=bomb, private_key_passphrase="s3cret")
    response = post_unopened(alice_client, data, opened)
    assert_refused(
        response, "private_key", "PBKDF2 over 20,000,000 rounds", "OpenSSL makes 2,048", HOW_TO_EXPORT
    )


def test_it_refuses_a_costly_encryption_before_asking_for_the_passphrase(
    alice_client, form_data, register, opened
):
    """GIVEN a key bomb posted without a passphrase
    WHEN saved
    THEN the key is refused for its encryption: typing the passphrase would not help."""
    bomb = craftedkeys.unopenable(craftedkeys.pbkdf2_parameters(20_000_000, secrets.token_bytes(16)))
    response = post_unopened(alice_client, form_data(register("p256"), private_key=bomb), opened)
    assert_refused(response, "private_key", "20,000,000 rounds")
    assert not response.context["form"].errors.get("private_key_passphrase")


@pytest.mark.parametrize("label", ["PRIVATE KEY", "RSA PRIVATE KEY"])
@pytest.mark.parametrize(("bits", "small"), [(16384, True), (8192, False)])
def test_it_refuses_an_rsa_key_of_another_size_before_checking_it(
    alice_client, form_data, register, label, bits, small, opened
):
    """GIVEN an RSA key NetSuite refuses for its size, small enough to paste: a 16384-bit modulus
    (OpenSSL's check took 26-30 s before it was refused) or a whole 8192-bit key
    WHEN it is posted as PKCS#8 or PKCS#1
    THEN it is refused for its size in milliseconds."""
    key = craftedkeys.rsa_private_key_der(bits, small=small)
    der = craftedkeys.private_key_info(key) if label == "PRIVATE KEY" else key
    response = post_unopened(
        alice_client, form_data(register("p256"), private_key=craftedkeys.pem(label, der)), opened
    )
    assert_refused(
        response, "private_key", "NetSuite accepts RSA keys of 3072 or 4096 bits", f"{bits}-bit RSA key"
    )


def test_it_refuses_a_whole_16384_bit_rsa_key_for_its_length(alice_client, form_data, register, opened):
    """GIVEN a whole 16384-bit RSA key (12 KB of PEM) WHEN pasted THEN it is refused for its length."""
    text = craftedkeys.pem(
        "PRIVATE KEY", craftedkeys.private_key_info(craftedkeys.rsa_private_key_der(16384))
    )
    response = post_unopened(alice_client, form_data(register("p256"), private_key=text), opened)
    assert_refused(response, "private_key", "at most 8,192", "an RSA 4096 key is about 3,300")


@pytest.mark.parametrize("fmt", ["pkcs8", "traditional"])
def test_it_refuses_an_encrypted_2048_bit_rsa_key_without_checking_it(
    alice_client, form_data, register, full_checks, fmt
):
    """GIVEN a 2048-bit RSA key encrypted with a reasonable KDF (its size is only known once
    it is decrypted) WHEN posted with the right passphrase
    THEN it is refused for its size, and OpenSSL's full RSA check never ran on it."""
    encrypted = keyfactory.private_pem(keyfactory.private_key("rsa2048"), fmt=fmt, passphrase="s3cret")
    data = form_data(register("p256"), private_key=encrypted, private_key_passphrase="s3cret")
    full_checks.clear()
    response = alice_client.post(NEW, data)
    assert_refused(
        response, "private_key", "NetSuite accepts RSA keys of 3072 or 4096 bits", "2048-bit RSA key"
    )
    assert full_checks == []


def test_it_refuses_rsa_numbers_no_key_generator_makes_without_checking_them(
    alice_client, form_data, register, full_checks
):
    """GIVEN a 4096-bit RSA key whose "prime" p has 4000 bits (testing it would cost seconds)
    WHEN posted THEN it is refused as damaged, and OpenSSL's full check never ran on it."""
    crafted = craftedkeys.private_key_info(craftedkeys.rsa_private_key_der(4096, prime_bits=4000))
    data = form_data(register("p256"), private_key=craftedkeys.pem("PRIVATE KEY", crafted))
    full_checks.clear()
    response = alice_client.post(NEW, data)
    assert_refused(response, "private_key", "could not be read")
    assert full_checks == []


@pytest.mark.parametrize("encrypted", [False, True])
def test_it_refuses_a_dsa_key_without_computing_its_public_key(
    alice_client, form_data, register, encrypted, opened
):
    """GIVEN a DSA key with a 16000-bit modulus (OpenSSL computes its public key first: over a
    second), plain or inside an encrypted PKCS#8 key
    WHEN posted THEN it is refused as a DSA key in milliseconds."""
    inner = craftedkeys.dsa_private_key_info(16000)
    text = craftedkeys.encrypt(inner, "s3cret") if encrypted else craftedkeys.pem("PRIVATE KEY", inner)
    data = form_data(register("p256"), private_key=text, private_key_passphrase="s3cret")
    response = post_unopened(
        alice_client, data, opened, allowed=("decrypt_private_key",) if encrypted else ()
    )
    assert_refused(response, "private_key", "NetSuite accepts RSA keys", "a DSA key")


def test_it_refuses_a_paste_over_8_kib(alice_client, form_data, register, opened):
    """GIVEN a valid key with enough text around it to pass 8 KiB
    WHEN pasted THEN it is refused for its length before anything reads it."""
    registered = register("p256")
    padded = registered.private_key_pem + "# notes\n" * 1100
    response = post_unopened(alice_client, form_data(registered, private_key=padded), opened)
    assert_refused(response, "private_key", f"This is {len(padded):,} characters", "at most 8,192")


def test_it_refuses_an_uploaded_key_file_over_8_kib(alice_client, form_data, register):
    """GIVEN a 9,000-byte private key file WHEN uploaded THEN it is refused for its size."""
    registered = register("p256")
    data = form_data(registered, private_key="")
    data["private_key_file"] = SimpleUploadedFile("key.pem", registered.private_key_pem.encode().ljust(9000))
    response = alice_client.post(NEW, data)
    assert_refused(response, "private_key", "9,000 bytes", "at most 8,192")


def test_it_keeps_the_larger_cap_for_a_certificate_chain(alice_client, form_data, register):
    """GIVEN a certificate followed by 10 KB of chain WHEN pasted THEN it is read (the private
    key's smaller cap is for keys only)."""
    registered = register("p256")
    chain = registered.certificate_pem + keyfactory.certificate_pem(keyfactory.private_key("rsa3072")) * 8
    assert 8 * 1024 < len(chain) < 16 * 1024
    response = alice_client.post(NEW, form_data(registered, certificate=chain))
    assert response.status_code == 302


def test_it_refuses_a_passphrase_over_1024_characters(alice_client, form_data, register, opened):
    """GIVEN a 5,000-character passphrase WHEN posted THEN the passphrase field says so."""
    registered = register("p256")
    data = form_data(registered, private_key_passphrase="x" * 5000)
    response = post_unopened(alice_client, data, opened)
    assert_refused(response, "private_key_passphrase", "5,000 characters", "at most 1,024")
    assert "x" * 100 not in response.content.decode()


def test_it_says_how_to_convert_an_openssh_key(alice_client, form_data, register):
    """GIVEN a key in OpenSSH's own format WHEN pasted THEN the message says how to convert it."""
    key = keyfactory.private_key("p256")
    openssh = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    response = alice_client.post(NEW, form_data(register("p256"), private_key=openssh))
    assert_refused(response, "private_key", "OpenSSH private key", "ssh-keygen -p -m PKCS8 -f KEYFILE")


def test_it_refuses_an_old_pkcs12_encryption_with_a_way_out(alice_client, form_data, register):
    """GIVEN a key encrypted with PKCS#12's SHA-1/3DES PBE (not opened here)
    WHEN posted THEN it is refused, saying how to export or re-encrypt it."""
    parameters = craftedkeys.sequence(craftedkeys.octets(b"salt1234"), craftedkeys.integer(2048))
    der = craftedkeys.sequence(
        craftedkeys.algorithm(craftedkeys.PBE_SHA1_3DES, parameters), craftedkeys.octets(b"\0" * 1200)
    )
    text = craftedkeys.pem("ENCRYPTED PRIVATE KEY", der)
    data = form_data(register("p256"), private_key=text, private_key_passphrase="s3cret")
    response = alice_client.post(NEW, data)
    assert_refused(response, "private_key", "old scheme", HOW_TO_EXPORT)


@pytest.mark.parametrize(
    "damaged",
    [
        b"\x30\x84\xff\xff\xff\xff",  # a length past the end
        b"\x30\x80\x02\x01\x00\x00\x00",  # an indefinite length
        b"\x30\x03\x02\x05\x00",  # an element longer than its sequence
        b"",
    ],
)
@pytest.mark.parametrize("label", ["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY"])
def test_it_gives_a_clean_message_for_malformed_der(label, damaged):
    """GIVEN DER that lies about its lengths WHEN loaded THEN a KeyMaterialError, never a crash."""
    with pytest.raises(private_keys.KeyMaterialError, match="could not be read"):
        private_keys.load_private_key(craftedkeys.pem(label, damaged), "s3cret")


# --- what people really paste still opens ---------------------------------------------------


def test_it_saves_a_key_encrypted_like_openssl_pkcs8_does(alice_client, form_data, register):
    """GIVEN a 3072-bit RSA key encrypted as `openssl pkcs8 -topk8` does (PBKDF2, 2048 rounds)
    WHEN posted with its passphrase THEN it is saved, and the stored key needs no passphrase."""
    registered = register("rsa3072")
    key = keyfactory.private_key("rsa3072")
    encrypted = craftedkeys.encrypt(craftedkeys.pkcs8_der(key), "s3cret words")
    data = form_data(registered, private_key=encrypted, private_key_passphrase="s3cret words")
    assert alice_client.post(NEW, data).status_code == 302
    assert HttpAuthentication.objects.get().active_key().key_size == 3072


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"iterations": 600_000},
        {"prf": "sha1", "cipher": "des-ede3-cbc"},  # OpenSSL 1.0's pkcs8 -topk8
        {"prf": "sha512"},
        {"scrypt": (16384, 8, 1)},  # openssl pkcs8 -scrypt
    ],
)
def test_it_opens_keys_encrypted_with_the_defaults_of_common_tools(options):
    """GIVEN a P-256 key encrypted the way a common tool does WHEN loaded with its passphrase
    THEN it opens."""
    key = keyfactory.private_key("p256")
    encrypted = craftedkeys.encrypt(craftedkeys.pkcs8_der(key), "pässphrase", **options)
    assert private_keys.load_private_key(encrypted, "pässphrase").private_numbers() == key.private_numbers()


@pytest.mark.parametrize("fmt", ["pkcs8", "traditional"])
def test_it_opens_keys_encrypted_by_cryptography(fmt):
    """GIVEN a key encrypted with BestAvailableEncryption WHEN loaded with its passphrase THEN it opens."""
    key = keyfactory.private_key("rsa3072")
    encrypted = keyfactory.private_pem(key, fmt=fmt, passphrase="s3cret")
    assert private_keys.load_private_key(encrypted, "s3cret").private_numbers() == key.private_numbers()


def test_it_says_when_the_passphrase_does_not_open_a_pkcs8_key():
    """GIVEN an encrypted PKCS#8 key WHEN loaded with a wrong passphrase THEN the passphrase is blamed."""
    encrypted = craftedkeys.encrypt(craftedkeys.pkcs8_der(keyfactory.private_key("p256")), "right")
    with pytest.raises(private_keys.PassphraseError, match="does not open"):
        private_keys.load_private_key(encrypted, "wrong")
