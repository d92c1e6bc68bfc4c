"""Make NetSuite-ready key pairs: a private key and the self-signed certificate to upload.

Separate from private_keys and pasted (which read what people paste) because nothing here parses
untrusted input.
"""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authentications.keys import private_keys
from authentications.models import NETSUITE_MAX_CERTIFICATE_DAYS

# The kinds NetSuite accepts, as offered in the form (private_keys.ALLOWED_RSA_SIZES / ALLOWED_CURVES).
KEY_KINDS = {
    "rsa3072": "RSA 3072",
    "rsa4096": "RSA 4096",
    "p256": "EC P-256",
    "p384": "EC P-384",
    "p521": "EC P-521",
}
DEFAULT_KIND = "p256"
_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "p256": ec.SECP256R1,
    "p384": ec.SECP384R1,
    "p521": ec.SECP521R1,
}
MIN_DAYS = 1
MAX_DAYS = NETSUITE_MAX_CERTIFICATE_DAYS
DEFAULT_COMMON_NAME = "nsconnect"
# X.509 (RFC 5280 ub-common-name) caps a common name at 64 characters.
MAX_COMMON_NAME = 64
# Backdated so a clock a little behind ours (NetSuite's, a laptop's) already finds it valid.
CLOCK_SKEW = timedelta(minutes=5)


@sensitive_variables()
def generate_private_key(kind: str) -> private_keys.PrivateKey:
    if kind in ("rsa3072", "rsa4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind]())
    raise ValueError(f"Unknown key kind {kind!r}: choose one of {', '.join(KEY_KINDS)}.")


@sensitive_variables()
def generate_key_pair(
    *, kind: str = DEFAULT_KIND, days: int = MAX_DAYS, common_name: str = DEFAULT_COMMON_NAME
) -> tuple[private_keys.PrivateKey, x509.Certificate]:
    """A new private key and a self-signed certificate for it, valid `days` from a few minutes ago."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"A certificate for NetSuite is valid for {MIN_DAYS} to {MAX_DAYS} days.")
    key = generate_private_key(kind)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = timezone.now() - CLOCK_SKEW
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def fitting_algorithm(key_type: str, curve: str, algorithm: str = "") -> str:
    """`algorithm` if NetSuite pairs it with this kind of key, else the one that fits (PS256 for RSA)."""
    allowed = private_keys.RSA_ALGORITHMS if key_type == "RSA" else (private_keys.ALGORITHM_FOR_CURVE[curve],)
    return algorithm if algorithm in allowed else allowed[0]
