"""What NetSuite's single values look like: one check per value of the HTTP Authentication
form, each raising a ValidationError whose message names the fix; the Certificate ID field
that the rotation wizard asks too, and the scopes as the integration record's checkboxes."""

from __future__ import annotations

import re
from typing import Any

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


# The scopes as NetSuite's integration record names them; stored comma separated.
SCOPE_CHOICES = [
    ("restlets", "RESTlets"),
    ("rest_webservices", "REST web services"),
    ("suite_analytics", "SuiteAnalytics Connect"),
    (assertion.MCP_SCOPE, "mcp: the NetSuite AI connector (alone, without the others)"),
]
MAX_SCOPES_CHARS = 100


class ScopesWidget(forms.CheckboxSelectMultiple):
    """Ticks the scopes of a comma-separated value: as stored, or as a script posts it."""

    def format_value(self, value: Any) -> list[str]:  # type: ignore[override]
        values = value if isinstance(value, list | tuple) else [value]
        return [part.strip().lower() for item in values if item for part in str(item).split(",")]


class ScopesField(forms.CharField):
    """Checkboxes that give the comma-separated text scopes() checks: ticked boxes post a list,
    a script may post the text itself."""

    widget = ScopesWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_SCOPES_CHARS)
        super().__init__(**kwargs)
        self.widget.choices = SCOPE_CHOICES

    def to_python(self, value: Any) -> str:
        if isinstance(value, list | tuple):
            value = ",".join(str(item) for item in value)
        return str(super().to_python(value))

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {}  # no maxlength on a checkbox


def scopes_field() -> ScopesField:
    return ScopesField(
        label="Scopes",
        error_messages={
            "required": "Tick at least one scope, as ticked on the integration record (or mcp alone)."
        },
        help_text="Tick the scopes ticked on the integration record in NetSuite; mcp cannot be "
        "combined with the others.",
    )


# One spelling for one set of scopes, so that the same boxes ticked (or a script's text in
# another order) never read as an edit of the scopes, which drops the stored token.
SCOPE_ORDER = (*assertion.SCOPES, assertion.MCP_SCOPE)


def scopes(value: str) -> str:
    try:
        return ",".join(sorted(assertion.parse_scopes(value), key=SCOPE_ORDER.index))
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
