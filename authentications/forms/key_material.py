"""The key version on the HTTP Authentication form: the Certificate ID, a private key (pasted or
uploaded, with its passphrase, or kept from an earlier post of the same form) and its
certificate, or a key pair generated in nsconnect instead, and the day the certificate was
uploaded to NetSuite; checked together against the active key."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authentications import selectors
from authentications.fields import DecryptionError
from authentications.forms import field_rules, upload_day
from authentications.keys import certificates, generation, loaded_keys, pasted, private_keys
from authentications.models import SigningKey
from authentications.services.authentication_records import UNCHANGED, KeyMaterial
from authentications.services.form_drafts import KeptKey

PEM_ATTRS = {"rows": 8, "spellcheck": "false", "autocomplete": "off", "class": "font-monospace"}
KEPT_KEY_UNREADABLE = (
    "The private key kept for this form can no longer be read (the encryption key changed): "
    "paste it (or choose its file) again."
)


def algorithms_for(key_type: str, curve: str) -> tuple[str, ...]:
    """The JWT algorithms NetSuite pairs with a kind of key: PS* for RSA, one ES* for each curve."""
    if key_type == "RSA":
        return private_keys.RSA_ALGORITHMS
    return (private_keys.ALGORITHM_FOR_CURVE[curve],)


class WriteOnlyTextarea(forms.Textarea):
    """Renders empty whatever was posted: a private key never goes back to the browser."""

    def format_value(self, value: Any) -> None:
        return None


class KeyMaterialForm(forms.ModelForm):
    """The key fields of an authentication's form (AuthenticationForm, which names the model).

    On edit a blank private key keeps the active key; check_key_material() makes key_material
    when the fields give a new key version, or active_key_uploaded_at when they correct the
    active key's upload day.
    """

    certificate_id = field_rules.certificate_id_field()
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

    def __init__(self, *args: Any, user: Any = None, kept_key: KeptKey | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.warnings: list[str] = []
        self.key_material: KeyMaterial | None = None
        # The key that clean() loaded and checked: Retrieve signs with it before Save.
        self.loaded_private_key: private_keys.PrivateKey | None = None
        # A key pasted (or uploaded) in this post and checked: the page keeps it for the form.
        self.pasted_private_key: private_keys.PrivateKey | None = None
        # The key an earlier post of this form kept (form_drafts), used when none is pasted now.
        self.kept_key = kept_key
        self.uses_kept_key = False
        self.active_key = self.instance.active_key() if self.instance.pk else None
        # The active key's upload day, when this edit corrects it (see check_key_material()).
        self.active_key_uploaded_at: Any = UNCHANGED
        wants_generated_key = self._find_generated_key(user)
        if wants_generated_key:
            self.kept_key = None  # a generated key pair replaces any pasted key
        # Required unless its file is uploaded or a generated key pair is chosen; on edit a
        # blank private key keeps the current one, and a key kept for the form is used.
        for text, upload in (("private_key", "private_key_file"), ("certificate", "certificate_file")):
            has_upload = bool(self.files.get(self.add_prefix(upload)))
            keeps_key = text == "private_key" and (self.active_key is not None or self.kept_key is not None)
            self.fields[text].required = not (has_upload or wants_generated_key or keeps_key)
        if self.instance.pk:
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

    def clean_certificate_id(self) -> str:
        return field_rules.certificate_id(self.cleaned_data["certificate_id"])

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
    def check_key_material(self, cleaned: dict[str, Any]) -> None:
        """The key, its certificate, the JWT algorithm and the upload day together, from clean():
        called after the other fields' checks, as it makes key_material only if none failed."""
        if self.generated_key_problem:
            self.add_error(None, self.generated_key_problem)
            return
        if self.generated_key is not None:
            cleaned["certificate"] = self.generated_key.certificate_pem
        key = self._clean_private_key(cleaned)
        if key is None:
            return
        self.loaded_private_key = key
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

    def key_was_posted(self) -> bool:
        """Whether this post brings a private key (pasted or as a file), kept or not."""
        return self.is_bound and bool(
            str(self.data.get(self.add_prefix("private_key"), "")).strip()
            or self.files.get(self.add_prefix("private_key_file"))
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
            if "private_key" in self.errors:
                return None
            if self.kept_key is not None:
                return self._kept_private_key(self.kept_key)
            if self.active_key is None:
                return None
            return loaded_keys.load_stored_private_key(
                (self.active_key.pk, self.active_key.fingerprint_sha256), self.active_key.private_key
            )
        try:
            key = private_keys.load_private_key(pem, cleaned.get("private_key_passphrase", ""))
        except private_keys.PassphraseError as error:
            self.add_error("private_key_passphrase", str(error))
        except private_keys.KeyMaterialError as error:
            self.add_error("private_key", str(error))
        else:
            self.pasted_private_key = key
            return key
        return None

    @sensitive_variables()
    def _kept_private_key(self, kept_key: KeptKey) -> private_keys.PrivateKey | None:
        try:
            key = kept_key.private_key()
        except (DecryptionError, ValueError, TypeError):
            self.add_error("private_key", KEPT_KEY_UNREADABLE)
            return None
        self.uses_kept_key = True
        return key

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
            or self.uses_kept_key
            or facts.fingerprint_sha256 != self.active_key.fingerprint_sha256
            or cleaned["certificate_id"] != self.active_key.certificate_id
        )
