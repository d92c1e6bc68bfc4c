"""The day a certificate was uploaded to NetSuite, as the HTTP Authentication form asks it:
NetSuite ends a certificate two years after its upload, whatever its notAfter says."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django import forms
from django.utils import timezone

from authentications.models import SigningKey

LABEL = "Uploaded to NetSuite on"
HELP_TEXT = (
    "NetSuite ends a certificate two years after the day it was uploaded there, even if the "
    "certificate itself runs longer. Left empty, nsconnect counts the two years from the "
    "certificate's start date (notBefore), the earliest day it can have been uploaded."
)


def upload_day_field() -> forms.DateField:
    return forms.DateField(
        label=LABEL,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter the date as YYYY-MM-DD, or leave it empty if you do not know it."},
        help_text=HELP_TEXT,
    )


def today() -> date:
    """Today where nsconnect runs: the day a generated key pair's certificate is uploaded, at best."""
    return timezone.localdate()


def upload_day_of(signing_key: SigningKey | None) -> date | None:
    """The upload day of a stored key, as the form shows it; None when unknown."""
    if signing_key is None or signing_key.uploaded_at is None:
        return None
    return signing_key.uploaded_at.astimezone(UTC).date()


def problem_with(day: date, not_before: datetime | None) -> str:
    """Why a certificate starting at not_before cannot have been uploaded on day; "" if it can."""
    if day > today():
        return (
            "This date is in the future: enter the day the certificate was uploaded to NetSuite, "
            "or leave it empty."
        )
    if not_before is None:
        return ""
    starts = not_before.astimezone(UTC).date()
    if day < starts:
        return (
            f"The certificate is valid from {starts:%Y-%m-%d}: it cannot have been uploaded to NetSuite "
            "before that day."
        )
    return ""


def uploaded_at(day: date | None, not_before: datetime) -> datetime | None:
    """Midnight UTC of the upload day (None: unknown), never before the certificate's notBefore:
    counted from midnight of its first day, a two-year certificate would look cut by NetSuite."""
    if day is None:
        return None
    return max(datetime.combine(day, time.min, tzinfo=UTC), not_before)
