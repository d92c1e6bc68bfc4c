"""The list page's search and filters (state, enabled), sent as query parameters."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms

from authentications.selectors import EXPIRING_DAYS, State

ENABLED_CHOICES = [("", "Any"), ("yes", "Enabled"), ("no", "Disabled")]


def _state_choices() -> list[tuple[str, str]]:
    labels = {State.CERTIFICATE_EXPIRING: f"Certificate expiring (within {EXPIRING_DAYS} days)"}
    return [("", "Any state"), *((state.value, labels.get(state, state.label)) for state in State)]


class AuthenticationFilterForm(forms.Form):
    """GET filters of /authentications/: the dashboard's tiles link here with them."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
        help_text="Name, identifier, account ID, or the start of the consumer key.",
    )
    state = forms.ChoiceField(required=False, choices=_state_choices)
    enabled = forms.ChoiceField(required=False, choices=ENABLED_CHOICES)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        # The filters are query parameters: no CSRF token in the URL.
        self.helper.disable_csrf = True
        self.helper.attrs = {"role": "search", "aria-label": "Find HTTP authentications"}
        self.helper.layout = Layout(
            Row(
                Column("q", css_class="col-md-5"),
                Column("state", css_class="col-md-3"),
                Column("enabled", css_class="col-md-2"),
                # A plain button: crispy's Submit would add its name to the query string.
                # The spacer stands in for a label, so the button lines up with the fields.
                Column(
                    HTML(
                        '<div class="form-label d-none d-md-block" aria-hidden="true">&nbsp;</div>'
                        '<button type="submit" class="btn btn-outline-primary">Find</button>'
                    ),
                    css_class="col-md-2 mb-3",
                ),
            )
        )

    def criteria(self) -> dict[str, Any]:
        """What selectors.authentications_listed takes, from the valid form."""
        data = self.cleaned_data
        enabled = {"yes": True, "no": False}.get(data.get("enabled") or "")
        return {
            "search": (data.get("q") or "").strip(),
            "state": State(data["state"]) if data.get("state") else None,
            "enabled": enabled,
        }

    def is_filtering(self) -> bool:
        criteria = self.criteria()
        return bool(criteria["search"]) or criteria["state"] is not None or criteria["enabled"] is not None
