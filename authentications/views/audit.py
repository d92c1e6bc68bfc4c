"""The audit trail page: every AuditEvent, newest first, filtered by authentication, actor and action.

Read-only on purpose: audit rows are written by services.audit_trail.audit() and nothing else.
It pages by the index on the time it shows rows in (keyset), not by offset: the hundredth page
of a long trail reads 51 rows from the index, not 5,000 counted and skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from authentications.forms.audit_filter import AuditFilterForm
from authentications.models import AuditEvent

EVENTS_PER_PAGE = 50


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, and where the pages either side of it start."""

    object_list: list[AuditEvent]
    # The event each neighbouring page is read from (the page's first or last event), or None.
    newer_than: int | None
    older_than: int | None

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(self.object_list)

    @property
    def has_other_pages(self) -> bool:
        return self.newer_than is not None or self.older_than is not None


def _cursor(value: str | None) -> int | None:
    """An event ID from the query string; anything else reads as the first page."""
    return int(value) if value and value.isdigit() and len(value) < 19 else None


def _read(events: QuerySet[AuditEvent]) -> tuple[list[AuditEvent], bool]:
    """A page's rows as ordered, and whether more follow them."""
    rows = list(events[: EVENTS_PER_PAGE + 1])
    return rows[:EVENTS_PER_PAGE], len(rows) > EVENTS_PER_PAGE


def _past(events: QuerySet[AuditEvent], cursor: int, *, older: bool) -> QuerySet[AuditEvent]:
    """The events past the cursor event in the page's order (created_at, id), nearest first: a
    range of the created_at index, then the few rows at the cursor's own time that come after it."""
    at = Subquery(AuditEvent.objects.filter(pk=cursor).values("created_at")[:1])
    if older:
        return (
            events.filter(created_at__lte=at)
            .exclude(created_at=at, pk__gte=cursor)
            .order_by("-created_at", "-pk")
        )
    return (
        events.filter(created_at__gte=at).exclude(created_at=at, pk__lte=cursor).order_by("created_at", "pk")
    )


def _page(events: QuerySet[AuditEvent], *, older_than: int | None, newer_than: int | None) -> EventPage:
    if older_than is not None:
        rows, more = _read(_past(events, older_than, older=True))
        return EventPage(rows, rows[0].pk if rows else None, rows[-1].pk if rows and more else None)
    if newer_than is not None:
        rows, more = _read(_past(events, newer_than, older=False))
        rows = rows[::-1]
        return EventPage(rows, rows[0].pk if rows and more else None, rows[-1].pk if rows else None)
    rows, more = _read(events.order_by("-created_at", "-pk"))
    return EventPage(rows, None, rows[-1].pk if rows and more else None)


@require_http_methods(["GET"])
def audit_trail(request: HttpRequest) -> HttpResponse:
    # Signed-in users only: LoginRequiredMiddleware sends everyone else to the sign-in page.
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.select_related("authentication")
    # A filter that names nothing known shows its error and no rows, rather than every row.
    events = form.filter(events) if form.is_valid() else events.none()
    page = _page(
        events,
        older_than=_cursor(request.GET.get("older")),
        newer_than=_cursor(request.GET.get("newer")),
    )
    return render(request, "authentications/audit_trail.html", {"form": form, "page_obj": page})
