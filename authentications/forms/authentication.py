"""The HTTP Authentication form: Alumio's NetSuite screen, checked against NetSuite's rules.

Its key fields (Certificate ID, private key, certificate, upload day, generated key pair) and
their checks are KeyMaterialForm's, in key_material. Its groups (FIELDSETS) follow Alumio's
screen: the connection, then the key with the Certificate ID and JWT algorithm that go with it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.views.decorators.debug import sensitive_variables

from authentications.forms import field_rules
from authentications.forms.key_material import KeyMaterialForm, algorithms_for
from authentications.models import HttpAuthentication
from authentications.netsuite import assertion, token_urls
from authentications.services import credential_changes, form_drafts
from authentications.services.authentication_records import RESERVED_IDENTIFIERS, identifier_for

# Said once, under the legend of the fieldset that holds both IDs.
NETSUITE_IDS_HELP = (
    "The internal IDs of the role and entity of the certificate mapping in NetSuite, only for "
    "uploading certificates to NetSuite from nsconnect."
)
# The form's groups, in the order of Alumio's screen (the Name and Enabled come first).
FIELDSETS = (
    ("Connection", ("settings_type", "provider", "account_id", "token_url", "consumer_key", "scopes")),
    (
        "Key",
        (
            "private_key",
            "private_key_file",
            "private_key_passphrase",
            "certificate",
            "certificate_file",
            "uploaded_on",
            "certificate_id",
            "jwt_algorithm",
        ),
    ),
    ("Alerts", ("alert_recipients",)),
    ("NetSuite certificate endpoint (optional)", ("netsuite_role_id", "netsuite_entity_id")),
)
# Settings and provider have one choice each for now: shown as text, never posted.
FIXED_WHEN_ALONE = ("settings_type", "provider")


class AuthenticationForm(KeyMaterialForm):
    """Creates or edits an authentication; on edit a blank private key keeps the current one."""

    netsuite_ids_help = NETSUITE_IDS_HELP
    scopes = field_rules.scopes_field()
    token_url = forms.CharField(
        label="Authentication URL",
        required=False,
        max_length=500,
        help_text="For example https://1234567.suitetalk.api.netsuite.com"
        f"{token_urls.TOKEN_PATH}. Left empty, it is made from the Account ID.",
    )

    class Meta:
        model = HttpAuthentication
        fields = [
            "name",
            "settings_type",
            "provider",
            "jwt_algorithm",
            "consumer_key",
            "scopes",
            "account_id",
            "enabled",
            "alert_recipients",
            "netsuite_role_id",
            "netsuite_entity_id",
        ]
        widgets = {"alert_recipients": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "consumer_key": "The Consumer Key (Client ID) of the integration record: 64 hexadecimal "
            "characters. Not the Application ID, not the consumer secret.",
            "account_id": "Optional, for example 1234567 or 1234567_SB1.",
        }

    field_order = [
        "name",
        "enabled",
        *(name for _legend, names in FIELDSETS for name in names),
    ]

    def __init__(
        self, *args: Any, user: Any = None, kept_key: form_drafts.KeptKey | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, user=user, kept_key=kept_key, **kwargs)
        # Where the stored key signs now: moving it is a key operation (credential_changes).
        self.signing_target = credential_changes.signing_target(self.instance)
        self.may_move_key = not self.instance.pk or credential_changes.may_move_signing_target(user)
        if self.instance.pk:
            self.fields["token_url"].initial = self.instance.token_url
        self.fixed_fields = [
            self[name]
            for name in FIXED_WHEN_ALONE
            if len(self.fields[name].choices) == 1  # type: ignore[attr-defined]
        ]
        for bound in self.fixed_fields:
            bound.field.disabled = True
        self._fit_algorithms_to_known_key()
        if not self.is_bound:
            # The page opens in its first field. A form sent back with errors leaves focus to them.
            next(iter(self.fields.values())).widget.attrs["autofocus"] = True

    def _fit_algorithms_to_known_key(self) -> None:
        """Offer only the JWT algorithms that fit the key the form will sign with, when it is
        known before anything is posted: a generated key pair, the key kept for this form, or on
        edit the stored key. A key pasted now may be of another kind: then all are offered."""
        if self.generated_key is not None:
            self.fit_algorithms(self.generated_key.key_type, self.generated_key.curve)
        elif self.key_was_posted():
            return
        elif self.kept_key is not None:
            self.fit_algorithms(self.kept_key.key_type, self.kept_key.curve)
        elif self.active_key is not None:
            self.fit_algorithms(self.active_key.key_type, self.active_key.curve)

    def fit_algorithms(self, key_type: str, curve: str) -> None:
        allowed = algorithms_for(key_type, curve)
        field = self.fields["jwt_algorithm"]
        field.choices = [(algorithm, algorithm) for algorithm in allowed]  # type: ignore[attr-defined]
        kind = f"{key_type} {curve}" if curve else key_type
        field.error_messages["invalid_choice"] = (
            f"%(value)s cannot be used with this {kind} key: choose {' or '.join(allowed)}."
        )
        if not self.is_bound and self.initial.get("jwt_algorithm") not in allowed:
            self.initial["jwt_algorithm"] = allowed[0]

    # --- single fields ------------------------------------------------------

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        identifier = identifier_for(name)
        if not identifier:
            raise forms.ValidationError(
                "Use at least one letter or digit: the name gives the identifier in URLs."
            )
        if not self.instance.pk and identifier in RESERVED_IDENTIFIERS:
            raise forms.ValidationError(f'"{name}" is reserved for a page of nsconnect: choose another name.')
        if not self.instance.pk and HttpAuthentication.objects.filter(identifier=identifier).exists():
            raise forms.ValidationError(
                f'The identifier "{identifier}" made from this name is taken: choose another name.'
            )
        return name

    def clean_consumer_key(self) -> str:
        return field_rules.consumer_key(self.cleaned_data["consumer_key"])

    def clean_scopes(self) -> str:
        return field_rules.scopes(self.cleaned_data["scopes"])

    def clean_account_id(self) -> str:
        return field_rules.account_id(self.cleaned_data["account_id"])

    def clean_alert_recipients(self) -> str:
        return field_rules.alert_recipients(self.cleaned_data["alert_recipients"])

    def clean_netsuite_role_id(self) -> str:
        return field_rules.internal_id(self.cleaned_data["netsuite_role_id"], "role")

    def clean_netsuite_entity_id(self) -> str:
        return field_rules.internal_id(self.cleaned_data["netsuite_entity_id"], "entity")

    # --- the fields together ------------------------------------------------

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        self._clean_token_url(cleaned)
        self._refuse_moved_signing_target(cleaned)
        self.check_key_material(cleaned)
        if self.pasted_private_key is not None:
            # Shown again, the select offers what fits the key now kept for the form.
            self.fit_algorithms(*form_drafts.key_kind(self.pasted_private_key))
        return cleaned

    def _refuse_moved_signing_target(self, cleaned: dict[str, Any]) -> None:
        # Also refused by authentication_records.authentication_update; here the message lands at
        # the field, and Retrieve on this form cannot send the stored key's assertion elsewhere either.
        if self.may_move_key:
            return
        for name in credential_changes.SIGNING_TARGET_FIELDS:
            if name in cleaned and cleaned[name] != self.signing_target[name]:
                self.add_error(name, credential_changes.refusal_message(name))

    def _clean_token_url(self, cleaned: dict[str, Any]) -> None:
        url = cleaned.get("token_url", "").strip()
        account_id = cleaned.get("account_id", "")
        if not url and not account_id:
            if "account_id" not in self.errors:
                self.add_error("token_url", "Enter the Authentication URL, or an Account ID to make it from.")
            return
        if not url:
            cleaned["token_url"] = token_urls.token_url_for_account(account_id)
            return
        try:
            cleaned["token_url"] = token_urls.check_token_url(url)
        except token_urls.ProtocolValueError as error:
            self.add_error("token_url", str(error))
            return
        if account_id and not token_urls.is_allowlisted(url):
            expected = token_urls.token_url_for_account(account_id)
            if cleaned["token_url"] != expected:
                self.add_error(
                    "account_id",
                    f"Account {account_id} has the token URL {expected}, not the Authentication URL "
                    "entered. Correct one of them, or leave the Account ID empty.",
                )

    # --- what the view needs --------------------------------------------------

    def problems(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) of each error, in the page's order, for the summaries that
        link to the fields; a problem of the whole form has no field id."""
        found = [("", "", str(message)) for message in self.non_field_errors()]
        for bound in self:
            if bound.is_hidden:
                found += [("", "", str(message)) for message in bound.errors]
                continue
            # A group of checkboxes is reached by its first box.
            field_id = bound.id_for_label or f"{bound.auto_id}_0"
            found += [(field_id, str(bound.label), str(message)) for message in bound.errors]
        return found

    def authentication_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in (*self.Meta.fields, "token_url")}

    @sensitive_variables()
    def credentials(self) -> assertion.Credentials:
        """The credentials on screen, for Retrieve before Save (call after is_valid())."""
        assert self.loaded_private_key is not None  # noqa: S101  (is_valid() set it)
        return assertion.Credentials(
            consumer_key=self.cleaned_data["consumer_key"],
            certificate_id=self.cleaned_data["certificate_id"],
            algorithm=self.cleaned_data["jwt_algorithm"],
            scopes=self.cleaned_data["scopes"].split(","),
            token_url=self.cleaned_data["token_url"],
            private_key=self.loaded_private_key,
        )
