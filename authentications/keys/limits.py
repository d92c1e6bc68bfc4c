"""What a pasted private key costs to open, read from its DER before any expensive step.

An encrypted key names its own key derivation cost and an RSA key its own size; OpenSSL
pays whatever they ask (4 GiB of scrypt, 20 million PBKDF2 rounds, half a minute checking
a 16384-bit key) before nsconnect could refuse it. So the parameters are read here first
and anything NetSuite would never need is refused in milliseconds. Encrypted PKCS#8 keys
are opened here too, so the key inside is measured before OpenSSL builds it. The DER
itself is read by der.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.views.decorators.debug import sensitive_variables

from authentications.keys.der import DamagedKeyError, Der, whole

# openssl pkcs8 -topk8 and ssh-keygen -m PKCS8 use 2048 PBKDF2 rounds; OWASP's advice for
# PBKDF2-SHA256 is 600,000: more is never a default, only a way to make us spend CPU.
MAX_PBKDF2_ITERATIONS = 600_000
# openssl's -scrypt makes N=16384, r=8, p=1 (16 MiB). N*r*p bounds both the time and the
# memory (128*N*r bytes): this allows N=65536 with r=8 (64 MiB), four times OpenSSL's.
MAX_SCRYPT_WORK = 65_536 * 8
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
MAX_PASSPHRASE_CHARS = 1024

HOW_TO_REENCRYPT = (
    "Export it without a passphrase (nsconnect stores it encrypted): "
    "openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-plain.pem; "
    "or re-encrypt it with OpenSSL's defaults: "
    "openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key-new.pem"
)

RSA_OIDS = ("1.2.840.113549.1.1.1", "1.2.840.113549.1.1.10")  # rsaEncryption, RSASSA-PSS
EC_OID = "1.2.840.10045.2.1"
# Key types NetSuite refuses, named as private_keys.describe_key names them once loaded. DSA
# and DH are never loaded: OpenSSL computes their public key (a modular power of any size) first.
REFUSED_KEY_TYPES = {
    "1.2.840.10040.4.1": "a DSA key",
    "1.2.840.113549.1.3.1": "a DH key",
    "1.2.840.10046.2.1": "a DH key",
    "1.3.101.110": "an X25519 key",
    "1.3.101.111": "an X448 key",
    "1.3.101.112": "an Ed25519 key",
    "1.3.101.113": "an Ed448 key",
}

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_SCRYPT = "1.3.6.1.4.1.11591.4.11"
_HMAC_HASHES = {
    "1.2.840.113549.2.7": "sha1",
    "1.2.840.113549.2.8": "sha224",
    "1.2.840.113549.2.9": "sha256",
    "1.2.840.113549.2.10": "sha384",
    "1.2.840.113549.2.11": "sha512",
}
# cipher OID: (name, key length, block size)
_CIPHERS = {
    "2.16.840.1.101.3.4.1.2": ("aes-128-cbc", 16, 16),
    "2.16.840.1.101.3.4.1.22": ("aes-192-cbc", 24, 16),
    "2.16.840.1.101.3.4.1.42": ("aes-256-cbc", 32, 16),
    "1.2.840.113549.3.7": ("des-ede3-cbc", 24, 8),
}
_PBES1_PREFIXES = ("1.2.840.113549.1.12.1.", "1.2.840.113549.1.5.")


class KeyCostError(ValueError):
    """The key is refused before it is opened; the message says why, fit for the field."""


# --- unencrypted keys ------------------------------------------------------------------


@sensitive_variables()
def check_private_key_info(der: bytes, *, allowed_rsa_sizes: tuple[int, ...], rule: str) -> None:
    """Refuse an unencrypted PKCS#8 key NetSuite would refuse, before OpenSSL builds it.

    EC keys pass (opening them is cheap; the curve is checked once loaded)."""
    info = whole(der)
    info.integer()  # version
    oid, _ = info.algorithm()
    private_key = info.octets()
    if oid in RSA_OIDS:
        check_rsa_private_key(private_key, allowed_rsa_sizes=allowed_rsa_sizes, rule=rule)
    elif oid in REFUSED_KEY_TYPES:
        raise KeyCostError(f"{rule}; this is {REFUSED_KEY_TYPES[oid]}.")
    elif oid != EC_OID:
        raise KeyCostError(f"{rule}; this is a key of another kind (algorithm {oid}).")


@sensitive_variables()
def check_rsa_private_key(der: bytes, *, allowed_rsa_sizes: tuple[int, ...], rule: str) -> None:
    """Refuse a PKCS#1 RSA key of a size NetSuite refuses, or whose numbers no key generator
    makes: OpenSSL's full check tests the primes, and its cost grows with their size."""
    key = whole(der)
    version = key.integer()
    if version == 1:
        raise KeyCostError(f"{rule}; this is a multi-prime RSA key, which NetSuite does not accept.")
    modulus = key.integer()
    if version != 0 or modulus <= 0:
        raise DamagedKeyError
    bits = modulus.bit_length()
    if bits not in allowed_rsa_sizes:
        raise KeyCostError(f"{rule}; this is a {bits}-bit RSA key.")
    # e, d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p: the last five are about half the
    # modulus in every generated key, and no larger than the modulus in any real one.
    half = bits // 2 + 64
    limits = (bits, bits, half, half, half, half, half)
    numbers = [key.integer() for _ in limits]
    if any(value <= 0 or value.bit_length() > limit for value, limit in zip(numbers, limits, strict=True)):
        raise DamagedKeyError


# --- encrypted PKCS#8 -------------------------------------------------------------------


@dataclass(frozen=True)
class Pbes2:
    """How an encrypted PKCS#8 key is opened, once its cost is known to be acceptable."""

    kdf: str  # "pbkdf2" or "scrypt"
    salt: bytes
    iterations: int = 0
    hash_name: str = "sha1"
    scrypt_n: int = 0
    scrypt_r: int = 0
    scrypt_p: int = 0
    cipher: str = ""
    key_length: int = 0
    iv: bytes = b""


@dataclass(frozen=True)
class EncryptedKey:
    scheme: Pbes2
    ciphertext: bytes


def read_encrypted_private_key(der: bytes) -> EncryptedKey:
    """Read an EncryptedPrivateKeyInfo and refuse it if opening it would cost more than
    OpenSSL or ssh-keygen ever ask, or uses a scheme we do not open."""
    info = whole(der)
    oid, parameters = info.algorithm()
    ciphertext = info.octets()
    if oid != _PBES2:
        if oid.startswith(_PBES1_PREFIXES):
            raise KeyCostError(
                "This private key is encrypted with an old scheme (PKCS#5 v1 or PKCS#12 PBE with "
                f"DES, 3DES or RC2) that nsconnect does not open. {HOW_TO_REENCRYPT}."
            )
        raise KeyCostError(
            f"This private key is encrypted with a scheme nsconnect does not know ({oid}). "
            f"{HOW_TO_REENCRYPT}."
        )
    pbes2 = parameters.sequence()
    kdf_oid, kdf_parameters = pbes2.algorithm()
    cipher_oid, cipher_parameters = pbes2.algorithm()
    if cipher_oid not in _CIPHERS:
        raise KeyCostError(
            f"This private key is encrypted with a cipher nsconnect does not open ({cipher_oid}; "
            f"AES-CBC and 3DES-CBC are). {HOW_TO_REENCRYPT}."
        )
    cipher, key_length, block_size = _CIPHERS[cipher_oid]
    iv = cipher_parameters.octets()
    if len(iv) != block_size or len(ciphertext) % block_size or not ciphertext:
        raise DamagedKeyError
    if kdf_oid == _PBKDF2:
        scheme = _read_pbkdf2(kdf_parameters.sequence())
    elif kdf_oid == _SCRYPT:
        scheme = _read_scrypt(kdf_parameters.sequence())
    else:
        raise KeyCostError(
            f"This private key's passphrase is stretched with a function nsconnect does not know "
            f"({kdf_oid}; PBKDF2 and scrypt are). {HOW_TO_REENCRYPT}."
        )
    scheme = replace(scheme, cipher=cipher, key_length=key_length, iv=iv)
    return EncryptedKey(scheme=scheme, ciphertext=ciphertext)


def _read_pbkdf2(parameters: Der) -> Pbes2:
    salt = parameters.octets()  # the "otherSource" choice was never used in practice
    iterations = parameters.integer()
    if parameters.peek_tag() == 0x02:
        parameters.integer()  # keyLength: the cipher decides, as OpenSSL does
    hash_name = "sha1"
    if not parameters.at_end():
        prf, _ = parameters.algorithm()
        if prf not in _HMAC_HASHES:
            raise KeyCostError(
                f"This private key's PBKDF2 uses a hash nsconnect does not know ({prf}). {HOW_TO_REENCRYPT}."
            )
        hash_name = _HMAC_HASHES[prf]
    if iterations < 1:
        raise DamagedKeyError
    if iterations > MAX_PBKDF2_ITERATIONS:
        raise KeyCostError(
            f"This private key's passphrase is stretched with PBKDF2 over {_count(iterations)} rounds; "
            f"nsconnect opens keys of up to {MAX_PBKDF2_ITERATIONS:,} (OpenSSL makes 2,048), so that "
            f"no key can hold a web request for seconds. {HOW_TO_REENCRYPT}."
        )
    return Pbes2(kdf="pbkdf2", salt=salt, iterations=iterations, hash_name=hash_name)


def _read_scrypt(parameters: Der) -> Pbes2:
    salt = parameters.octets()
    n, r, p = parameters.integer(), parameters.integer(), parameters.integer()
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        raise DamagedKeyError
    # r and p are capped too, or r alone could ask for gigabytes with a tiny N.
    if n * r * p > MAX_SCRYPT_WORK or r > MAX_SCRYPT_R or p > MAX_SCRYPT_P:
        memory_mib = 128 * n * r // (1024 * 1024)
        raise KeyCostError(
            f"This private key's passphrase is stretched with scrypt N={_count(n)}, r={_count(r)}, "
            f"p={_count(p)} ({_count(memory_mib)} MiB of memory); nsconnect opens keys of up to N×r×p = "
            f"{MAX_SCRYPT_WORK:,} with r ≤ {MAX_SCRYPT_R} and p ≤ {MAX_SCRYPT_P} (OpenSSL's -scrypt "
            f"makes N=16,384, r=8, p=1), so that no key can hold a web request for seconds. "
            f"{HOW_TO_REENCRYPT}."
        )
    return Pbes2(kdf="scrypt", salt=salt, scrypt_n=n, scrypt_r=r, scrypt_p=p)


def _count(number: int) -> str:
    """A number from a key for a message. No real key holds one past 64 bits, and Python refuses to
    print one past 4,300 digits (a ValueError, not a message): those are said in words."""
    return f"{number:,}" if number.bit_length() <= 64 else f"more than {2**64:,}"


@sensitive_variables()
def decrypt_private_key(encrypted: EncryptedKey, passphrase: bytes) -> bytes:
    """The PKCS#8 PrivateKeyInfo inside; DamagedKeyError when the passphrase does not open it."""
    scheme = encrypted.scheme
    if scheme.kdf == "pbkdf2":
        key = hashlib.pbkdf2_hmac(
            scheme.hash_name, passphrase, scheme.salt, scheme.iterations, dklen=scheme.key_length
        )
    else:
        n, r, p = scheme.scrypt_n, scheme.scrypt_r, scheme.scrypt_p
        key = hashlib.scrypt(
            passphrase,
            salt=scheme.salt,
            n=n,
            r=r,
            p=p,
            maxmem=128 * r * (n + p + 2) + 1024 * 1024,
            dklen=scheme.key_length,
        )
    if scheme.cipher == "des-ede3-cbc":
        decryptor = Cipher(TripleDES(key), modes.CBC(scheme.iv)).decryptor()
        block_bits = 64
    else:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(scheme.iv)).decryptor()
        block_bits = 128
    padded = decryptor.update(encrypted.ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(block_bits).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DamagedKeyError from None
