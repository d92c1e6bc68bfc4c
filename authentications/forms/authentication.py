"""The HTTP Authentication form: Alumio's NetSuite screen, checked against NetSuite's rules."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authentications import selectors
from authentications.forms import field_rules, upload_day
from authentications.keys import certificates, generation, loaded_keys, pasted, private_keys
from authentications.models import HttpAuthentication, SigningKey
from authentications.netsuite import assertion, token_urls
from authentications.services import credential_changes
from authentications.services.authentication_records import (
    RESERVED_IDENTIFIERS,
    UNCHANGED,
    KeyMaterial,
    identifier_for,
)

NETSUITE_IDS_HELP = (
    "Optional: the internal IDs of the role and entity of the certificate mapping, for uploading "
    "certificates to NetSuite from nsconnect."
)


PEM_ATTRS = {"rows": 8, "spellcheck": "false", "autocomplete": "off", "class": "font-monospace"}


class WriteOnlyTextarea(forms.Textarea):
    """Renders empty whatever was posted: a private key never goes back to the browser."""

    def format_value(self, value: Any) -> None:
        return None


class AuthenticationForm(forms.ModelForm):
    """Creates or edits an authentication; on edit a blank private key keeps the current one."""

    certificate_id = forms.CharField(
        label="Certificate ID",
        max_length=255,
        help_text="Shown in NetSuite at Setup > Integration > Manage Authentication > "
        "OAuth 2.0 Client Credentials (M2M) Setup.",
    )
    token_url = forms.CharField(
        label="Authentication URL",
        required=False,
        max_length=500,
        help_text="For example https://1234567.suitetalk.api.netsuite.com"
        f"{token_urls.TOKEN_PATH}. Left empty, it is made from the Account ID.",
    )
    private_key = forms.CharField(
        label="Private key",
        required=False,
        strip=False,
        widget=WriteOnlyTextarea(attrs=PEM_ATTRS),
        error_messages={"required": "Paste the private key, or upload its file."},
        help_text="PEM (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY). Write-only: it is "
        "stored encrypted and never shown again.",
    )
    private_key_file = forms.FileField(label="or upload the private key file", required=False)
    private_key_passphrase = forms.CharField(
        label="Private key passphrase",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Only to open an encrypted key; never stored.",
    )
    certificate = forms.CharField(
        label="Certificate",
        required=False,
        widget=forms.Textarea(attrs=PEM_ATTRS),
        error_messages={"required": "Paste the certificate uploaded to NetSuite, or upload its file."},
        help_text="The public certificate (BEGIN CERTIFICATE) uploaded to NetSuite.",
    )
    certificate_file = forms.FileField(
        label="or upload the certificate file (.pem, .crt, .cer)", required=False
    )
    uploaded_on = upload_day.upload_day_field()
    # A key pair generated in nsconnect, used instead of a pasted key and certificate.
    signing_key = forms.CharField(required=False, widget=forms.HiddenInput)

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
            "scopes": "Comma separated: restlets, rest_webservices, suite_analytics (or mcp alone). "
            "Each must be ticked on the integration record.",
            "account_id": "Optional, for example 1234567 or 1234567_SB1.",
            "netsuite_role_id": NETSUITE_IDS_HELP,
            "netsuite_entity_id": NETSUITE_IDS_HELP,
        }

    field_order = [
        "name",
        "settings_type",
        "provider",
        "jwt_algorithm",
        "certificate_id",
        "consumer_key",
        "scopes",
        "account_id",
        "token_url",
        "private_key",
        "private_key_file",
        "private_key_passphrase",
        "certificate",
        "certificate_file",
        "uploaded_on",
        "enabled",
        "alert_recipients",
        "netsuite_role_id",
        "netsuite_entity_id",
    ]

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warnings: list[str] = []
        self.key_material: KeyMaterial | None = None
        self._private_key: private_keys.PrivateKey | None = None
        self.active_key = self.instance.active_key() if self.instance.pk else None
        # The active key's upload day, when this edit corrects it (see clean()).
        self.active_key_uploaded_at: Any = UNCHANGED
        # Where the stored key signs now: moving it is a key operation (credential_changes).
        self.signing_target = credential_changes.signing_target(self.instance)
        self.may_move_key = not self.instance.pk or credential_changes.may_move_signing_target(user)
        wants_generated_key = self._find_generated_key(user)
        # Required unless its file is uploaded or a generated key pair is chosen; on edit a
        # blank private key keeps the current one.
        for text, upload in (("private_key", "private_key_file"), ("certificate", "certificate_file")):
            has_upload = bool(self.files.get(self.add_prefix(upload)))
            keeps_key = text == "private_key" and self.active_key is not None
            self.fields[text].required = not (has_upload or wants_generated_key or keeps_key)
        if self.instance.pk:
            self.fields["token_url"].initial = self.instance.token_url
            self.fields["uploaded_on"].initial = upload_day.upload_day_of(self.active_key)
            if self.active_key is not None:
                self.fields["certificate_id"].initial = self.active_key.certificate_id
                self.fields["certificate"].initial = self.active_key.certificate_pem
            self.fields["private_key"].help_text = (
                "Leave blank to keep the current key. A new key must come with its certificate "
                "and Certificate ID."
            )

    def _find_generated_key(self, user: Any) -> bool:
        """Look up the chosen generated key pair (posted, or ?signing_key= on a new page).

        Returns whether one was asked for. The JWT algorithm is made to fit it here,
        before anything renders, so the page shows the algorithm that will be saved.
        """
        field = self.add_prefix("signing_key")
        raw = self.data.get(field, "") if self.is_bound else self.initial.get("signing_key") or ""
        self.generated_key: SigningKey | None = None
        self.generated_key_problem = ""
        if not str(raw).strip():
            return False
        self.generated_key, self.generated_key_problem = selectors.generated_key_for_form(user, raw)
        if self.generated_key is None:
            return True
        key_type, curve = self.generated_key.key_type, self.generated_key.curve
        if self.is_bound:
            posted = self.data.get(self.add_prefix("jwt_algorithm"), "")
            fitting = generation.fitting_algorithm(key_type, curve, posted)
            if fitting != posted:
                # Posted data is immutable: change a copy.
                data = self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
                data[self.add_prefix("jwt_algorithm")] = fitting
                self.data = data
        else:
            current = self.initial.get("jwt_algorithm", "")
            self.initial["jwt_algorithm"] = generation.fitting_algorithm(key_type, curve, current)
            self.initial["signing_key"] = self.generated_key.pk
            # Its certificate has yet to reach NetSuite: today is the likeliest upload day.
            self.initial["uploaded_on"] = upload_day.today()
        return True

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

    def clean_certificate_id(self) -> str:
        return field_rules.certificate_id(self.cleaned_data["certificate_id"])

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

    def clean_uploaded_on(self) -> date | None:
        day = self.cleaned_data.get("uploaded_on")
        if day is not None and day > upload_day.today():
            raise forms.ValidationError(upload_day.problem_with(day, None))
        return day

    @sensitive_variables()
    def clean_private_key(self) -> str:
        return self._pem_text("private_key", "private_key_file", "private key")

    def clean_certificate(self) -> str:
        return self._pem_text("certificate", "certificate_file", "certificate")

    def _pem_text(self, text_field: str, file_field: str, what: str) -> str:
        field = self.fields[text_field]
        return pasted.read_pem(
            self.cleaned_data.get(text_field) or "",
            self.files.get(self.add_prefix(file_field)),
            what=what,
            required_message=str(field.error_messages["required"]) if field.required else None,
        )

    # --- the fields together ------------------------------------------------

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        self._clean_token_url(cleaned)
        self._refuse_moved_signing_target(cleaned)
        if self.generated_key_problem:
            self.add_error(None, self.generated_key_problem)
            return cleaned
        if self.generated_key is not None:
            cleaned["certificate"] = self.generated_key.certificate_pem
        key = self._clean_private_key(cleaned)
        if key is None:
            return cleaned
        self._private_key = key
        algorithm = cleaned.get("jwt_algorithm")
        if algorithm:
            try:
                private_keys.check_algorithm(algorithm, key)
            except private_keys.KeyMaterialError as error:
                self.add_error("jwt_algorithm", str(error))
        facts = self._clean_certificate(cleaned, key)
        uploaded_at = self._clean_upload_day(cleaned, facts)
        certificate_id = cleaned.get("certificate_id")
        if self.generated_key and self.active_key and certificate_id == self.active_key.certificate_id:
            # A new certificate always gets a new Certificate ID in NetSuite.
            self.add_error(
                "certificate_id",
                "This is the current key's Certificate ID. Upload the new certificate in NetSuite "
                "and enter the Certificate ID it shows.",
            )
        if (
            facts is not None
            and certificate_id
            and not self.errors
            and self._key_version_changed(cleaned, facts)
        ):
            generated = self.generated_key
            self.key_material = KeyMaterial(
                certificate_id=certificate_id,
                certificate=facts,
                # A generated key is stored already: its row is attached, not copied.
                private_key_pem="" if generated else private_keys.serialize_private_key(key),
                signing_key_id=generated.pk if generated else None,
                uploaded_at=uploaded_at,
            )
        elif facts and cleaned.get("uploaded_on") != upload_day.upload_day_of(self.active_key):
            # No new key version: a changed upload day corrects the active key's.
            self.active_key_uploaded_at = uploaded_at
        return cleaned

    def _refuse_moved_signing_target(self, cleaned: dict[str, Any]) -> None:
        # Also refused by services.authentication_update; here the message lands at the field,
        # and Retrieve on this form cannot send the stored key's assertion elsewhere either.
        if self.may_move_key:
            return
        for name in credential_changes.SIGNING_TARGET_FIELDS:
            if name in cleaned and cleaned[name] != self.signing_target[name]:
                self.add_error(name, credential_changes.refusal_message(name))

    def _clean_upload_day(
        self, cleaned: dict[str, Any], facts: certificates.CertificateFacts | None
    ) -> datetime | None:
        day = cleaned.get("uploaded_on")
        if day is None or facts is None:
            return None
        problem = upload_day.problem_with(day, facts.not_before)
        if problem:
            self.add_error("uploaded_on", problem)
            return None
        return upload_day.uploaded_at(day, facts.not_before)

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

    @sensitive_variables()
    def _clean_private_key(self, cleaned: dict[str, Any]) -> private_keys.PrivateKey | None:
        if self.generated_key is not None:
            # Checked when it was made; a pasted key, if any, is ignored.
            return loaded_keys.load_stored_private_key(
                (self.generated_key.pk, self.generated_key.fingerprint_sha256), self.generated_key.private_key
            )
        pem = cleaned.get("private_key", "")
        if not pem:
            if self.active_key is None or "private_key" in self.errors:
                return None
            return loaded_keys.load_stored_private_key(
                (self.active_key.pk, self.active_key.fingerprint_sha256), self.active_key.private_key
            )
        try:
            return private_keys.load_private_key(pem, cleaned.get("private_key_passphrase", ""))
        except private_keys.PassphraseError as error:
            self.add_error("private_key_passphrase", str(error))
        except private_keys.KeyMaterialError as error:
            self.add_error("private_key", str(error))
        return None

    def _clean_certificate(
        self, cleaned: dict[str, Any], key: private_keys.PrivateKey
    ) -> certificates.CertificateFacts | None:
        pem = cleaned.get("certificate", "")
        if not pem:
            return None
        # A generated key pair's certificate has no field on the page: its problems go on top.
        where = "certificate" if self.generated_key is None else None
        try:
            facts = certificates.certificate_facts(certificates.load_certificate(pem), key)
        except private_keys.KeyMaterialError as error:
            self.add_error(where, str(error))
            return None
        already_active = (
            self.active_key is not None and facts.fingerprint_sha256 == self.active_key.fingerprint_sha256
        )
        dates = pasted.check_certificate_dates(facts, timezone.now(), already_active=already_active)
        self.warnings.extend(dates.warnings)
        if dates.problem:
            self.add_error(where, dates.problem)
            return None
        return facts

    def _key_version_changed(self, cleaned: dict[str, Any], facts: certificates.CertificateFacts) -> bool:
        if self.active_key is None:
            return True
        return (
            bool(cleaned.get("private_key"))
            or facts.fingerprint_sha256 != self.active_key.fingerprint_sha256
            or cleaned["certificate_id"] != self.active_key.certificate_id
        )

    # --- what the view needs --------------------------------------------------

    def authentication_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in (*self.Meta.fields, "token_url")}

    @sensitive_variables()
    def credentials(self) -> assertion.Credentials:
        """The credentials on screen, for Retrieve before Save (call after is_valid())."""
        assert self._private_key is not None  # noqa: S101  (is_valid() set it)
        return assertion.Credentials(
            consumer_key=self.cleaned_data["consumer_key"],
            certificate_id=self.cleaned_data["certificate_id"],
            algorithm=self.cleaned_data["jwt_algorithm"],
            scopes=self.cleaned_data["scopes"].split(","),
            token_url=self.cleaned_data["token_url"],
            private_key=self._private_key,
        )
