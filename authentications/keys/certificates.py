"""Certificates: read from PEM, matched to their private key, and the facts kept about them
(dates, fingerprint, key kind), read so that a crafted certificate fails with a message."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authentications.keys import private_keys


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
        raise private_keys.KeyMaterialError(
            "This is a private key. Paste the certificate (BEGIN CERTIFICATE) here; "
            "the private key goes under Private key."
        )
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise private_keys.KeyMaterialError(
            'This is not an X.509 certificate in PEM: it should start with "-----BEGIN CERTIFICATE-----".'
        ) from None
    # A pasted chain starts with the leaf: the one uploaded to NetSuite.
    return certificates[0]


def certificate_facts(certificate: x509.Certificate, key: private_keys.PrivateKey) -> CertificateFacts:
    """The facts we keep about a certificate, once it is known to belong to the key."""
    # The parts of a certificate are parsed when first read: a crafted one fails here,
    # not when it was loaded.
    try:
        return _certificate_facts(certificate, key)
    except private_keys.KeyMaterialError:
        raise  # a ValueError too, but one that already says what is wrong
    except (ValueError, UnsupportedAlgorithm):
        raise private_keys.KeyMaterialError(
            "This certificate could not be read: its public key or one of its fields is damaged or "
            "of a kind NetSuite does not accept. Paste the certificate made with this private key."
        ) from None


def _certificate_facts(certificate: x509.Certificate, key: private_keys.PrivateKey) -> CertificateFacts:
    public = certificate.public_key()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if not isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey) or public.public_bytes(
        der, spki
    ) != key.public_key().public_bytes(der, spki):
        raise private_keys.KeyMaterialError(
            f"This certificate belongs to another key (it holds {private_keys.describe_key(public)}, not the "
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
        curve=private_keys.ALLOWED_CURVES[key.curve.name]
        if isinstance(key, ec.EllipticCurvePrivateKey)
        else "",
    )
