"""Key material made as the tests run: private keys, PEM text and self-signed certificates."""

from __future__ import annotations

import datetime as dt
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

_CURVES: dict[str, ec.EllipticCurve] = {
    "p256": ec.SECP256R1(),
    "p384": ec.SECP384R1(),
    "p521": ec.SECP521R1(),
    "p192": ec.SECP192R1(),
    "secp256k1": ec.SECP256K1(),
}
# Which JWT algorithm NetSuite pairs with each allowed kind of key.
ALGORITHM_FOR_KIND = {
    "rsa3072": "PS256",
    "rsa4096": "PS512",
    "p256": "ES256",
    "p384": "ES384",
    "p521": "ES512",
}


@cache
def private_key(kind: str, copy: int = 0):
    """One key per (kind, copy) for the whole run: RSA 4096 takes a second to make."""
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(_CURVES[kind])


def private_pem(key, *, fmt: str = "pkcs8", passphrase: str | None = None) -> str:
    private_format = (
        serialization.PrivateFormat.PKCS8
        if fmt == "pkcs8"
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, private_format, encryption).decode()


def certificate_pem(
    key,
    *,
    days: int = 730,
    not_before: dt.datetime | None = None,
    common_name: str = "nsconnect test",
) -> str:
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, algorithm)
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
