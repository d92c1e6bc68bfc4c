"""Flow: a key administrator generates a key pair, downloads its certificate for NetSuite and
checks the file is what NetSuite asks for."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Page, expect

from tests.browser.conftest import Flow


def test_a_generated_key_pair_gives_a_certificate_netsuite_accepts(
    kim_signed_in: Page, flow: Flow, live_server: Any, tmp_path: Path
) -> None:
    page = kim_signed_in
    page.goto(f"{live_server.url}/authentications/keys/new/")
    page.get_by_label("Key type").select_option(label="EC P-384")
    page.get_by_label("Validity in days").fill("365")
    page.get_by_label("Common name").fill("Acme ERP")
    flow.seen("key-pair-form")
    page.get_by_role("button", name="Generate a key pair").click()

    expect(page.get_by_role("heading", name="Key pair: EC P-384")).to_be_visible()
    expect(page.locator("main")).to_contain_text("CN=Acme ERP")
    shown_fingerprint = page.locator("dd code").first.inner_text()
    flow.seen("key-pair", picture="key-pair")

    files = {}
    for extension in ("pem", "crt"):
        with page.expect_download() as download_info:
            page.get_by_role("link", name=f"Download nsconnect.{extension}").or_(
                page.get_by_role("link", name=f"Download acme-erp.{extension}")
            ).click()
        download = download_info.value
        files[extension] = tmp_path / download.suggested_filename
        download.save_as(files[extension])
    # The two files are the one certificate, in the PEM text NetSuite's upload takes.
    assert files["pem"].read_bytes() == files["crt"].read_bytes()
    certificate = x509.load_pem_x509_certificate(files["pem"].read_bytes())

    # What the page said is what the file holds.
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert hashlib.sha256(der).hexdigest() in shown_fingerprint.replace(":", "").lower()
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Acme ERP"
    # NetSuite's rules: an EC key on the curve chosen, self-signed, at most two years.
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp384r1"
    assert certificate.issuer == certificate.subject
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA384 | hashes.SHA256)
    public_key.verify(
        certificate.signature,
        certificate.tbs_certificate_bytes,
        ec.ECDSA(certificate.signature_hash_algorithm),
    )
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert dt.timedelta(days=364) < lifetime <= dt.timedelta(days=366)
    # Only the public half: no private key anywhere in what was downloaded.
    assert b"PRIVATE KEY" not in files["pem"].read_bytes()
