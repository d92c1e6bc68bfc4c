"""The audit trail's filters (authentication, actor, action), offered from what the rows hold.

An authentication or an actor is picked from a list while every value is known and there are at
most OPTIONS of them. Otherwise the field is a search box that takes a name (for an
authentication, its identifier or part of either too) and suggests the values of the latest
events: knowing every actor of a long trail means reading all of it (a DISTINCT over 100,000
rows cost most of the page), and 5,000 options are too many to draw or to read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.html import format_html, format_html_join

from authentications.models import AuditEvent, HttpAuthentication

# Values for deleted authentications: their rows keep only the name (the link is NULL).
DELETED_PREFIX = "deleted:"
DELETED_SUFFIX = " (deleted)"
# The longest list a filter offers; past it, a search box.
OPTIONS = 100
# Names shown when a search matches several authentications.
SUGGESTED = 5
# The latest events whose values are suggested; when the trail is no longer, they are all of it.
RECENT = 1000


@dataclass(frozen=True)
class Chosen:
    """The authentication a filter names: a live one by primary key, or a deleted one by name."""

    pk: int | None = None
    deleted_name: str = ""
    label: str = ""

    def narrow(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.pk is not None:
            return events.filter(authentication_id=self.pk)
        return events.filter(authentication__isnull=True, authentication_name=self.deleted_name)


def _first(values: QuerySet[Any], count: int) -> list[Any]:
    return list(values[:count])


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))[:OPTIONS]


class SearchWithSuggestions(forms.TextInput):
    """A search box and the list of values the browser suggests as one types."""

    input_type = "search"

    def __init__(self, suggestions: list[str], placeholder: str) -> None:
        super().__init__(attrs={"placeholder": placeholder})
        self.suggestions = suggestions

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> Any:
        listed = f"{(attrs or {}).get('id') or name}_suggestions"
        box = super().render(name, value, {**(attrs or {}), "list": listed}, renderer)
        options = format_html_join(
            "", '<option value="{}"></option>', ((value,) for value in self.suggestions)
        )
        return format_html('{}<datalist id="{}">{}</datalist>', box, listed, options)


class AuditFilterForm(forms.Form):
    """GET filters of /audit/: a few reads of at most OPTIONS + 1 rows each, however long the trail."""

    authentication = forms.CharField(required=False, max_length=200)
    actor = forms.CharField(required=False, max_length=150)
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *AuditEvent.Action.choices])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read once per form (a callable choices attribute is read again by every validation),
        # and never more than OPTIONS + 1 authentications or RECENT + 1 events, by index.
        existing = _first(HttpAuthentication.objects.order_by("name").values_list("pk", "name"), OPTIONS + 1)
        recent = _first(
            AuditEvent.objects.order_by("-created_at", "-id").values_list(
                "actor_label", "authentication_id", "authentication_name"
            ),
            RECENT + 1,
        )
        whole_trail = len(recent) <= RECENT
        actors = sorted({actor for actor, _, _ in recent})
        deleted = sorted({name for _, pk, name in recent if pk is None and name})
        self.authentication_listed = whole_trail and len(existing) + len(deleted) <= OPTIONS
        self.actor_listed = whole_trail and len(actors) <= OPTIONS
        authentication, actor = self.fields["authentication"], self.fields["actor"]
        if self.authentication_listed:
            authentication.widget = forms.Select(
                choices=[
                    ("", "Any authentication"),
                    *((str(pk), name) for pk, name in existing),
                    *((f"{DELETED_PREFIX}{name}", f"{name}{DELETED_SUFFIX}") for name in deleted),
                ]
            )
        else:
            names = [name for _, name in existing] if len(existing) <= OPTIONS else []
            names += [f"{name}{DELETED_SUFFIX}" if pk is None else name for _, pk, name in recent if name]
            authentication.widget = SearchWithSuggestions(_unique(names), "Any: type a name or identifier")
        if self.actor_listed:
            actor.widget = forms.Select(choices=[("", "Anyone"), *((label, label) for label in actors)])
        else:
            actor.widget = SearchWithSuggestions(
                _unique([actor for actor, _, _ in recent]), "Anyone: type a name"
            )
        self.actor_choices = set(actors)
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

    def clean_authentication(self) -> Chosen | None:
        text = self.cleaned_data["authentication"].strip()
        if not text:
            return None
        # A deleted authentication, as the list and the rows name it.
        if text.startswith(DELETED_PREFIX) or text.endswith(DELETED_SUFFIX):
            name = text.removeprefix(DELETED_PREFIX).removesuffix(DELETED_SUFFIX)
            return self._deleted(name, text)
        # A number, as the list and the detail page's link give it. In the search box, digits that
        # number no authentication (or start with 0, as in "00042") are looked for in names.
        if text.isdigit() and not text.startswith("0") and len(text) < 19:
            found = _first(HttpAuthentication.objects.filter(pk=int(text)).values_list("pk", "name"), 1)
            if found:
                return Chosen(pk=found[0][0], label=found[0][1])
            if self.authentication_listed:
                raise forms.ValidationError(
                    f"Select a valid choice. {text} is not one of the available choices."
                )
        # Typed into the search box: an exact name or identifier first, else the only one containing it.
        exact = Q(name__iexact=text) | Q(identifier__iexact=text)
        matches = _first(
            HttpAuthentication.objects.filter(Q(name__icontains=text) | Q(identifier__icontains=text))
            .annotate(inexact=Case(When(exact, then=Value(0)), default=Value(1), output_field=IntegerField()))
            .order_by("inexact", "name")
            .values_list("pk", "name", "inexact"),
            SUGGESTED + 1,
        )
        if matches and (matches[0][2] == 0 or len(matches) == 1):
            return Chosen(pk=matches[0][0], label=matches[0][1])
        if matches:
            names = ", ".join(name for _, name, _ in matches[:SUGGESTED])
            more = " and more" if len(matches) > SUGGESTED else ""
            raise forms.ValidationError(
                f"Several authentications match “{text}”: {names}{more}. Type more of the name."
            )
        return self._deleted(text, text)

    def _deleted(self, name: str, text: str) -> Chosen:
        found = _first(
            AuditEvent.objects.filter(
                authentication__isnull=True, authentication_name__iexact=name
            ).values_list("authentication_name", flat=True),
            1,
        )
        if not found:
            raise forms.ValidationError(f"No authentication, present or deleted, is called “{text}”.")
        return Chosen(deleted_name=found[0], label=f"{found[0]}{DELETED_SUFFIX}")

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        chosen = self.cleaned_data.get("authentication")
        if isinstance(chosen, Chosen):
            # Shown back as the field offers it: the option to select, or the name in the box.
            if not self.authentication_listed:
                shown = chosen.label
            elif chosen.pk is not None:
                shown = str(chosen.pk)
            else:
                shown = f"{DELETED_PREFIX}{chosen.deleted_name}"
            self.data = {**dict(self.data.items()), "authentication": shown}
        return cleaned

    def clean_actor(self) -> str:
        actor: str = self.cleaned_data["actor"].strip()
        if actor and self.actor_listed and actor not in self.actor_choices:
            raise forms.ValidationError(
                f"Select a valid choice. {actor} is not one of the available choices."
            )
        return actor

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("authentication"):
            events = data["authentication"].narrow(events)
        if data.get("actor"):
            events = events.filter(actor_label=data["actor"])
        if data.get("action"):
            events = events.filter(action=data["action"])
        return events
