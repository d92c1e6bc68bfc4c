"""The audit trail's filters (authentication, actor, action), offered from what the rows hold."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms
from django.db.models import QuerySet

from authentications.models import AuditEvent, HttpAuthentication

# Choice values for deleted authentications: their rows keep only the name (the link is NULL).
DELETED_PREFIX = "deleted:"


def _authentication_choices() -> list[tuple[str, str]]:
    existing = [
        (str(pk), name) for pk, name in HttpAuthentication.objects.order_by("name").values_list("pk", "name")
    ]
    deleted_names = (
        AuditEvent.objects.filter(authentication__isnull=True)
        .exclude(authentication_name="")
        .order_by("authentication_name")
        .values_list("authentication_name", flat=True)
        .distinct()
    )
    deleted = [(f"{DELETED_PREFIX}{name}", f"{name} (deleted)") for name in deleted_names]
    return [("", "Any authentication"), *existing, *deleted]


def _actor_choices() -> list[tuple[str, str]]:
    labels = AuditEvent.objects.order_by("actor_label").values_list("actor_label", flat=True).distinct()
    return [("", "Anyone"), *((label, label) for label in labels)]


class AuditFilterForm(forms.Form):
    """GET filters of /audit/; the choices come from the rows, so only values that can match are offered."""

    # Callables: the choices are read from the rows each time a form is made.
    authentication = forms.ChoiceField(required=False, choices=_authentication_choices)
    actor = forms.ChoiceField(required=False, choices=_actor_choices)
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *AuditEvent.Action.choices])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        # The filters are query parameters: no CSRF token in the URL.
        self.helper.disable_csrf = True
        # One row, with labels and errors kept (Bootstrap's inline field template drops errors).
        self.helper.layout = Layout(
            Row(
                Column("authentication", css_class="col-md-4"),
                Column("actor", css_class="col-md-3"),
                Column("action", css_class="col-md-3"),
                # A plain button: crispy's Submit would add its name to the query string.
                Column(
                    HTML('<button type="submit" class="btn btn-outline-primary">Filter</button>'),
                    css_class="col-md-2 mb-3",
                ),
                css_class="align-items-end",
            )
        )

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        authentication = data.get("authentication") or ""
        if authentication.startswith(DELETED_PREFIX):
            events = events.filter(
                authentication__isnull=True, authentication_name=authentication.removeprefix(DELETED_PREFIX)
            )
        elif authentication:
            events = events.filter(authentication_id=int(authentication))
        if data.get("actor"):
            events = events.filter(actor_label=data["actor"])
        if data.get("action"):
            events = events.filter(action=data["action"])
        return events
