"""The forms of a generated key pair: the one that asks its kind, lifetime and common name, and
the JWT algorithm that fits it, which the key pair panel sends to the authentication form."""

from __future__ import annotations

from typing import Any

from django import forms

from authentications.forms.key_material import algorithms_for
from authentications.keys import generation
from authentications.models import JwtAlgorithm, SigningKey


class KeyPairForm(forms.Form):
    """Key type, validity and common name of a key pair to generate."""

    kind = forms.ChoiceField(
        label="Key type",
        choices=list(generation.KEY_KINDS.items()),
        initial=generation.DEFAULT_KIND,
        error_messages={"invalid_choice": "Choose RSA 3072, RSA 4096, EC P-256, EC P-384 or EC P-521."},
        help_text="EC P-256 is small and fast; all five are accepted by NetSuite.",
    )
    days = forms.IntegerField(
        label="Validity in days",
        initial=generation.MAX_DAYS,
        min_value=generation.MIN_DAYS,
        max_value=generation.MAX_DAYS,
        error_messages={
            "min_value": f"A certificate is valid for at least {generation.MIN_DAYS} day.",
            "max_value": f"NetSuite accepts at most {generation.MAX_DAYS} days (two years).",
            "invalid": f"Enter a whole number of days, {generation.MIN_DAYS} to {generation.MAX_DAYS}.",
        },
        help_text=f"{generation.MIN_DAYS} to {generation.MAX_DAYS} days (NetSuite's maximum is two years).",
    )
    common_name = forms.CharField(
        label="Common name",
        required=False,
        max_length=generation.MAX_COMMON_NAME,
        help_text="Written into the certificate, so you recognise it in NetSuite. Left empty: the "
        "authentication's name, or nsconnect.",
    )

    def __init__(self, *args: Any, fallback_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Left empty, the certificate is named after the authentication being filled in.
        self.fallback_name = fallback_name.strip()[: generation.MAX_COMMON_NAME]

    @classmethod
    def named(cls, name: str) -> KeyPairForm:
        """The empty form of the page of its own, its common name filled in from ?name=."""
        name = name.strip()[: generation.MAX_COMMON_NAME]
        return cls(initial={"common_name": name or generation.DEFAULT_COMMON_NAME})

    def clean_common_name(self) -> str:
        name: str = self.cleaned_data["common_name"].strip()
        return name or self.fallback_name or generation.DEFAULT_COMMON_NAME


class JwtAlgorithmForm(forms.Form):
    """The authentication form's JWT algorithm, offering only those that fit a key pair just
    generated (the first of them chosen), or all of them again once it is set aside (None).

    Never posted: the key pair panel renders its select, which htmx swaps in for the
    authentication form's (same name and id).
    """

    jwt_algorithm = forms.ChoiceField(label="JWT algorithm", choices=JwtAlgorithm.choices)

    def __init__(self, signing_key: SigningKey | None) -> None:
        if signing_key is None:
            super().__init__()
            return
        fitting = generation.fitting_algorithm(signing_key.key_type, signing_key.curve)
        super().__init__(initial={"jwt_algorithm": fitting})
        allowed = algorithms_for(signing_key.key_type, signing_key.curve)
        self.fields["jwt_algorithm"].choices = [(algorithm, algorithm) for algorithm in allowed]  # type: ignore[attr-defined]
