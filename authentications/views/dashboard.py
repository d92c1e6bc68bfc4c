"""The dashboard at /: a tile for each state that needs a look, each linking to the list
filtered to what it counts; the next certificate expiries; each authentication's latest failure."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from authentications import selectors
from authentications.selectors import State


@dataclass(frozen=True)
class Tile:
    label: str
    count: int
    colour: str  # a Bootstrap colour, when there is something to count
    query: dict[str, str]  # the list's filters that show exactly what is counted
    hint: str = ""

    @property
    def href(self) -> str:
        return f"{reverse('authentications:list')}?{urlencode(self.query)}"

    @property
    def shown_colour(self) -> str:
        return self.colour if self.count else "secondary"


@require_http_methods(["GET"])
def dashboard_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    counts = selectors.counts(now)
    states = counts.states

    def state_tile(state: State, colour: str, hint: str = "") -> Tile:
        return Tile(state.label, states[state], colour, {"state": state.value}, hint)

    tiles = [
        state_tile(State.HEALTHY, "success"),
        state_tile(State.NO_TOKEN, "info"),
        state_tile(State.FAILING, "danger"),
        state_tile(State.CERTIFICATE_EXPIRING, "warning", f"within {selectors.EXPIRING_DAYS} days"),
        state_tile(State.CERTIFICATE_EXPIRED, "danger"),
        Tile("Disabled", counts.disabled, "secondary", {"enabled": "no"}),
    ]
    return render(
        request,
        "dashboard.html",
        {
            "total": counts.authentications,
            "tiles": tiles,
            "next_expiries": selectors.next_expiries(now),
            "latest_failures": selectors.latest_failures(),
        },
    )
