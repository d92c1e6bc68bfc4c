"""Parse and check private keys and certificates against NetSuite's rules.

Checking an RSA key is expensive (OpenSSL verifies it: 110-250 ms), so keys are
checked once, when they are saved; signing loads them from our own encrypted
store without the check and keeps them in a small in-process cache.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

ALLOWED_RSA_SIZES = (3072, 4096)
ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
ALGORITHM_FOR_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
RSA_ALGORITHMS = ("PS256", "PS384", "PS512")
NETSUITE_KEY_RULE = (
    "NetSuite accepts RSA keys of 3072 or 4096 bits and EC keys on the curves P-256, P-384 or P-521"
)

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


class KeyMaterialError(ValueError):
    """A key or certificate problem, with a message fit to show next to the field."""


class PassphraseError(KeyMaterialError):
    """The key is encrypted and the passphrase is missing or wrong."""


def normalize_pem(text: str) -> str:
    """Repair the ways PEM gets mangled on its way through clipboards and JSON.

    Literal "\\n" sequences, Windows line ends, surrounding quotes and lost
    newlines (the whole block on one line) are all seen in practice.
    """
    text = text.strip().strip("\"'").replace("\\r\\n", "\n").replace("\\n", "\n")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = []
    for match in _PEM_BLOCK.finditer(text):
        label, body = match.group(1), match.group(2)
        if ":" in body:
            # Traditional encrypted keys carry Proc-Type/DEK-Info headers: keep as is.
            blocks.append(match.group(0).strip())
            continue
        data = "".join(body.split())
        lines = [data[i : i + 64] for i in range(0, len(data), 64)]
        blocks.append("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]))
    return "\n".join(blocks) + "\n" if blocks else text


def describe_key(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"a {key.key_size}-bit RSA key"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        name = ALLOWED_CURVES.get(key.curve.name, key.curve.name)
        return f"an EC key on the curve {name}"
    kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "").replace("PublicKey", "")
    return f"an {kind} key" if kind[:1] in "AEIOU" else f"a {kind} key"


def load_private_key(pem: str, passphrase: str = "") -> PrivateKey:
    """Load and fully check a pasted private key; raise KeyMaterialError with a message for the user."""
    if "-----BEGIN" not in pem:
        raise KeyMaterialError(
            "This is not a PEM private key: it should start with "
            '"-----BEGIN PRIVATE KEY-----" (or "BEGIN RSA/EC PRIVATE KEY").'
        )
    if "CERTIFICATE-----" in pem and "PRIVATE KEY-----" not in pem:
        raise KeyMaterialError("This is a certificate, not a private key: paste it under Certificate.")
    if "PUBLIC KEY-----" in pem and "PRIVATE KEY-----" not in pem:
        raise KeyMaterialError("This is a public key: paste the private key that belongs to the certificate.")
    data = pem.encode()
    password = passphrase.encode() if passphrase else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise PassphraseError(
                "This private key is encrypted. Enter its passphrase; it is used once "
                "to open the key and never stored."
            ) from None
        # A passphrase was given for a key that needs none: the key is what counts.
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        if password is not None and b"ENCRYPTED" in data:
            raise PassphraseError("This passphrase does not open the private key.") from None
        raise KeyMaterialError(
            "This private key could not be read: the PEM text is damaged or incomplete. "
            "Paste the whole file, including the BEGIN and END lines."
        ) from None
    except UnsupportedAlgorithm:
        raise KeyMaterialError(f"This key type is not supported. {NETSUITE_KEY_RULE}.") from None
    return check_key_allowed(key)


def check_key_allowed(key: object) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size in ALLOWED_RSA_SIZES:
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in ALLOWED_CURVES:
        return key
    raise KeyMaterialError(f"{NETSUITE_KEY_RULE}; this is {describe_key(key)}.")


def algorithms_for_key(key: PrivateKey) -> tuple[str, ...]:
    if isinstance(key, rsa.RSAPrivateKey):
        return RSA_ALGORITHMS
    return (ALGORITHM_FOR_CURVE[ALLOWED_CURVES[key.curve.name]],)


def check_algorithm(algorithm: str, key: PrivateKey) -> None:
    allowed = algorithms_for_key(key)
    if algorithm not in allowed:
        choice = " or ".join(allowed)
        raise KeyMaterialError(f"{algorithm} cannot be used with {describe_key(key)}: choose {choice}.")


def serialize_private_key(key: PrivateKey) -> str:
    """PKCS#8, unencrypted: the passphrase is never stored; our field encrypts it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass(frozen=True)
class CertificateFacts:
    certificate_pem: str
    fingerprint_sha256: str
    subject: str
    not_before: datetime
    not_after: datetime
    key_type: str
    key_size: int
    curve: str

    @property
    def validity_days(self) -> int:
        return (self.not_after - self.not_before).days


def load_certificate(pem: str) -> x509.Certificate:
    if "PRIVATE KEY-----" in pem:
        raise KeyMaterialError(
            "This is a private key. Paste the certificate (BEGIN CERTIFICATE) here; "
            "the private key goes under Private key."
        )
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise KeyMaterialError(
            'This is not an X.509 certificate in PEM: it should start with "-----BEGIN CERTIFICATE-----".'
        ) from None
    # A pasted chain starts with the leaf: the one uploaded to NetSuite.
    return certificates[0]


def certificate_facts(certificate: x509.Certificate, key: PrivateKey) -> CertificateFacts:
    """The facts we keep about a certificate, once it is known to belong to the key."""
    public = certificate.public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) or public.public_bytes(
        der, spki
    ) != key.public_key().public_bytes(der, spki):
        raise KeyMaterialError(
            f"This certificate belongs to another key (it holds {describe_key(public)}, not the "
            "public half of this private key). Paste the certificate made with this private key."
        )
    is_ec = isinstance(key, ec.EllipticCurvePrivateKey)
    return CertificateFacts(
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        fingerprint_sha256=hashlib.sha256(certificate.public_bytes(der)).hexdigest(),
        subject=certificate.subject.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        key_type="EC" if is_ec else "RSA",
        key_size=key.key_size,
        curve=ALLOWED_CURVES[key.curve.name] if isinstance(key, ec.EllipticCurvePrivateKey) else "",
    )


_LOADED_KEYS: OrderedDict[tuple[int, str], PrivateKey] = OrderedDict()
_LOADED_KEYS_LOCK = threading.Lock()
LOADED_KEYS_MAX = 256


def load_stored_private_key(cache_key: tuple[int, str], pem: str) -> PrivateKey:
    """Load a key that was fully checked when saved, skipping OpenSSL's slow RSA check.

    Cached in process by (signing key id, certificate fingerprint), so a new key
    version never meets an old entry.
    """
    with _LOADED_KEYS_LOCK:
        key = _LOADED_KEYS.get(cache_key)
        if key is not None:
            _LOADED_KEYS.move_to_end(cache_key)
            return key
    loaded = serialization.load_pem_private_key(
        pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyMaterialError(f"The stored private key is {describe_key(loaded)}. {NETSUITE_KEY_RULE}.")
    with _LOADED_KEYS_LOCK:
        _LOADED_KEYS[cache_key] = loaded
        while len(_LOADED_KEYS) > LOADED_KEYS_MAX:
            _LOADED_KEYS.popitem(last=False)
    return loaded


def forget_loaded_key(cache_key: tuple[int, str]) -> None:
    """Drop a loaded key from this process's cache (its private key was wiped)."""
    with _LOADED_KEYS_LOCK:
        _LOADED_KEYS.pop(cache_key, None)
