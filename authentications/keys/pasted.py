"""Reading key material as people hand it over (pasted or uploaded PEM) and the date
rules a certificate must meet; shared by every form that takes a key or certificate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Any

from django import forms
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.views.decorators.debug import sensitive_variables

from authentications.keys import certificates, private_keys
from authentications.models import NETSUITE_MAX_CERTIFICATE_DAYS

# A 4096-bit RSA key in PEM is about 3.3 KB; a certificate chain a few KB.
MAX_PEM_CHARS = 16 * 1024
# A private key is one key: the smaller cap bounds what a pasted key can make OpenSSL do.
MAX_CHARS_FOR = {"private key": private_keys.MAX_PRIVATE_KEY_PEM_CHARS}


@sensitive_variables()
class CappedUploadHandler(FileUploadHandler):
    """Keeps the first MAX_PEM_CHARS + 1 bytes of an uploaded file in memory and only counts the
    rest, so that read_pem refuses a huge file with its real size without it being written to
    disk first (Django's own handlers spool anything over 2.5 MB to a temporary file). Every file
    nsconnect takes is PEM text of a few KB. Installed by FILE_UPLOAD_HANDLERS."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.kept = bytearray()
        self.received = 0
        raise StopFutureHandlers  # the only handler of this file

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        room = MAX_PEM_CHARS + 1 - len(self.kept)
        if room > 0:
            self.kept += raw_data[:room]
        return None  # consumed: no other handler gets the data

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        return InMemoryUploadedFile(
            file=BytesIO(bytes(self.kept)),
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,  # what was sent, not what was kept: the size read_pem checks
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


def read_pem(text: str, upload: UploadedFile | None, *, what: str, required_message: str | None) -> str:
    """The PEM text from a textarea or its file, repaired; "" when neither was given and
    none is required. Raises ValidationError with a message for the field."""
    max_chars = MAX_CHARS_FOR.get(what, MAX_PEM_CHARS)
    if upload is not None:
        if text.strip():
            raise forms.ValidationError(f"Paste the {what} or upload its file, not both.")
        if (upload.size or 0) > max_chars:
            raise forms.ValidationError(
                f"This file is {upload.size:,} bytes; a {what} in PEM is at most "
                f"{max_chars:,}. Upload the PEM file, not an archive or keystore."
            )
        try:
            # Read one byte past the cap, so a wrong size on the upload cannot pass a larger file.
            text = upload.read(max_chars + 1).decode("ascii")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                f"This file is not PEM text. If it is DER (binary), convert it: "
                f"openssl {'x509' if what == 'certificate' else 'pkey'} "
                "-inform DER -in FILE -out FILE.pem"
            ) from None
    if len(text) > max_chars:
        raise forms.ValidationError(
            f"This is {len(text):,} characters; a {what} in PEM is at most {max_chars:,} "
            "(an RSA 4096 key is about 3,300). Check that you pasted the right file."
        )
    if not text.strip():
        if required_message:
            raise forms.ValidationError(required_message)
        return ""
    return private_keys.normalize_pem(text)


@dataclass
class CertificateDates:
    """What NetSuite's date rules say about a certificate: a refusal, or warnings."""

    problem: str = ""
    warnings: list[str] = field(default_factory=list)


def check_certificate_dates(
    facts: certificates.CertificateFacts, now: datetime, *, already_active: bool
) -> CertificateDates:
    """A new certificate must be in date; the one already in use only earns a warning,
    so that other fields of its record can still be edited."""
    result = CertificateDates()
    if facts.not_after <= now:
        message = f"This certificate expired on {facts.not_after:%Y-%m-%d}; NetSuite refuses it."
        if not already_active:
            result.problem = message + " Make a new key pair and certificate."
            return result
        result.warnings.append(message)
    if facts.not_before > now and not already_active:
        result.problem = f"This certificate is not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC."
        return result
    if facts.validity_days > NETSUITE_MAX_CERTIFICATE_DAYS:
        result.warnings.append(
            f"This certificate is valid for {facts.validity_days} days. NetSuite cuts any "
            f"certificate to two years ({NETSUITE_MAX_CERTIFICATE_DAYS} days) from its upload, "
            "so nsconnect counts down to the earlier date."
        )
    return result
