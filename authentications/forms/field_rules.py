"""What NetSuite's single values look like: one check per value of the HTTP Authentication
form, each raising a ValidationError whose message names the fix, and the Certificate ID field
that the rotation wizard asks too."""

from __future__ import annotations

import re

from django import forms

from authentications import emails
from authentications.netsuite import assertion, token_urls

_CERTIFICATE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_CONSUMER_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_INTERNAL_ID = re.compile(r"^[0-9]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def certificate_id_field() -> forms.CharField:
    """The Certificate ID as NetSuite shows it; its form checks it with certificate_id()."""
    return forms.CharField(
        label="Certificate ID",
        max_length=255,
        help_text="Shown in NetSuite at Setup > Integration > Manage Authentication > "
        "OAuth 2.0 Client Credentials (M2M) Setup.",
    )


def certificate_id(value: str) -> str:
    value = value.strip()
    if not _CERTIFICATE_ID.match(value):
        raise forms.ValidationError(
            "A Certificate ID has only letters, digits, - and _ (43 characters as NetSuite shows it)."
        )
    return value


def consumer_key(value: str) -> str:
    value = value.strip()
    if _UUID.match(value):
        raise forms.ValidationError(
            "This looks like the Application ID. Enter the Consumer Key (Client ID) of the "
            "integration record."
        )
    if not _CONSUMER_KEY.match(value):
        raise forms.ValidationError(
            "A NetSuite Consumer Key is 64 hexadecimal characters (0-9, a-f), shown once when the "
            "integration record is saved."
        )
    return value


def scopes(value: str) -> str:
    try:
        return ",".join(assertion.parse_scopes(value))
    except token_urls.ProtocolValueError as error:
        raise forms.ValidationError(str(error)) from None


def account_id(value: str) -> str:
    value = value.strip()
    if value:
        try:
            token_urls.account_host(value)
        except token_urls.ProtocolValueError as error:
            raise forms.ValidationError(str(error)) from None
    return value.upper()


# Alerts go to every address listed: a long list would make nsconnect a mail cannon, and
# checking it costs time before any other field is looked at.
MAX_ALERT_RECIPIENTS = 20
MAX_ALERT_RECIPIENTS_CHARS = 2000


def alert_recipients(value: str) -> str:
    if len(value) > MAX_ALERT_RECIPIENTS_CHARS:
        raise forms.ValidationError(
            f"This is {len(value):,} characters; list at most {MAX_ALERT_RECIPIENTS} addresses "
            f"({MAX_ALERT_RECIPIENTS_CHARS:,} characters). For more people, use a mailing list's address."
        )
    addresses = [a for a in re.split(r"[\s,;]+", value) if a]
    if len(addresses) > MAX_ALERT_RECIPIENTS:
        raise forms.ValidationError(
            f"This lists {len(addresses)} addresses; at most {MAX_ALERT_RECIPIENTS} are mailed. "
            "For more people, use a mailing list's address."
        )
    for address in addresses:
        if not emails.mailable(address):
            raise forms.ValidationError(f"{address} is not an email address.")
    return ", ".join(addresses)


def internal_id(value: str, what: str) -> str:
    """A role or entity ID as NetSuite's lists show it ("role", "entity")."""
    value = value.strip()
    if value and not _INTERNAL_ID.match(value):
        raise forms.ValidationError(
            f"The {what} ID is NetSuite's internal ID: digits only, as in the Internal ID column "
            f"of the {what} list."
        )
    return value
