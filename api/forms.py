"""The form staff fill in to issue an API key."""

from __future__ import annotations

from typing import Any

from django import forms

from api.models import ApiClient
from authentications.models import HttpAuthentication

# The largest primary key any database here stores (a signed 64-bit integer).
MAX_ID = 2**63 - 1


class AuthenticationsField(forms.ModelMultipleChoiceField):
    """Checkboxes of authentications; a value no id can be is refused as invalid, not passed to
    the database (SQLite raises OverflowError for integers past 64 bits)."""

    def clean(self, value: Any) -> Any:
        for item in value or []:
            if str(item).isdigit() and int(str(item)) > MAX_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": item}
                )
        return super().clean(value)


class ApiClientForm(forms.ModelForm):
    authentications = AuthenticationsField(
        queryset=HttpAuthentication.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        label="HTTP authentications it may read",
        error_messages={"required": "Choose at least one HTTP authentication."},
    )

    class Meta:
        model = ApiClient
        fields = ["name", "authentications"]
        help_texts = {"name": "The service that will use the key, e.g. “Orders ETL”."}
        error_messages = {"name": {"unique": "An API client with this name already exists."}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autofocus"] = True
