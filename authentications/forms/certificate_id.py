"""The rotation wizard's Certificate ID step: the Certificate ID NetSuite gave the pending key's
certificate, and the day it was uploaded there."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms

from authentications.forms import field_rules, upload_day
from authentications.models import SigningKey


class CertificateIdForm(forms.Form):
    """Step 2: the Certificate ID NetSuite gave the pending key's certificate, and the day it was
    uploaded there (NetSuite's two years count from it)."""

    # The same fields and checks as on the authentication form.
    certificate_id = field_rules.certificate_id_field()
    uploaded_on = upload_day.upload_day_field()

    def __init__(self, *args: Any, pending: SigningKey | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending = pending

    def clean_certificate_id(self) -> str:
        return field_rules.certificate_id(self.cleaned_data["certificate_id"])

    def clean_uploaded_on(self) -> date | None:
        day: date | None = self.cleaned_data["uploaded_on"]
        if day is not None:
            problem = upload_day.problem_with(day, self.pending.not_before if self.pending else None)
            if problem:
                raise forms.ValidationError(problem)
        return day

    def uploaded_at(self) -> datetime | None:
        """The upload day as the service takes it: None when left empty (unknown)."""
        day: date | None = self.cleaned_data["uploaded_on"]
        if day is None or self.pending is None:
            return None
        return upload_day.uploaded_at(day, self.pending.not_before)
