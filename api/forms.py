"""The form staff fill in to issue an API key."""

from __future__ import annotations

from typing import Any

from django import forms

from api.models import ApiClient
from authentications.models import HttpAuthentication


class ApiClientForm(forms.ModelForm):
    authentications = forms.ModelMultipleChoiceField(
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
