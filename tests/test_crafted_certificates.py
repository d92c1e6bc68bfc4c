"""A crafted certificate (its public key unreadable) is refused at its field, never a 500."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

pytestmark = pytest.mark.django_db


def _damaged_certificates(certificate_pem: str) -> list[str]:
    """The certificate with its public key's algorithm made unknown, and with its EC point broken."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    der = certificate.public_bytes(serialization.Encoding.DER)
    ec_public_key_oid = bytes.fromhex("06072a8648ce3d0201")
    unknown_algorithm = der.replace(ec_public_key_oid, bytes.fromhex("06072a8648ce3d0209"))
    point = certificate.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    end = der.index(point) + len(point)
    broken_point = der[: end - 1] + bytes([der[end - 1] ^ 1]) + der[end:]
    return [
        x509.load_der_x509_certificate(damaged).public_bytes(serialization.Encoding.PEM).decode()
        for damaged in (unknown_algorithm, broken_point)
    ]


@pytest.mark.parametrize("which", [0, 1], ids=["unknown key algorithm", "broken EC point"])
def test_a_crafted_certificate_gets_a_message_at_its_field_not_an_error_page(
    alice_client, register, form_data, which
):
    """GIVEN a certificate whose public key cannot be read WHEN it is saved, or tried with
    Retrieve THEN the form answers with a message at the certificate, never a 500."""
    registered = register("p256")
    damaged = _damaged_certificates(registered.certificate_pem)[which]
    alice_client.raise_request_exception = False

    saved = alice_client.post("/authentications/new/", form_data(registered, certificate=damaged))
    tried = alice_client.post(
        "/authentications/new/",
        {**form_data(registered, certificate=damaged), "retrieve_token": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert saved.status_code == 422
    assert "This certificate could not be read" in saved.context["form"].errors["certificate"][0]
    assert tried.status_code == 200
    assert "This certificate could not be read" in tried.content.decode()
