"""Dates: shown in the page's time zone, each in a <time> that never wraps mid-date, on every
page that shows them."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.template import Context, Template
from django.utils import timezone

from api.services import api_client_create
from authentications.models import HttpAuthentication

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2026, 12, 2, 21, 7, 30, tzinfo=dt.UTC)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def render(source: str, **context: Any) -> str:
    return Template("{% load authentications_tags %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("tag", "shown"),
    [
        ("{% date_time moment %}", "2026-12-02 22:07"),
        ("{% date_time moment seconds=True %}", "2026-12-02 22:07:30"),
        ("{% date_time moment day=True %}", "2026-12-02"),
        ("{% date_time moment utc=True %}", "2026-12-02 21:07"),
        ('{% date_time moment "Valid until" %}', "Valid until 2026-12-02 22:07"),
    ],
)
def test_a_date_is_a_time_element_that_does_not_wrap_in_the_pages_time_zone(
    settings: Any, tag: str, shown: str
) -> None:
    settings.TIME_ZONE = "Europe/Amsterdam"
    assert render(tag, moment=MOMENT) == (
        f'<time class="text-nowrap" datetime="2026-12-02T21:07:30+00:00">{shown}</time>'
    )


def test_no_date_is_a_dash_or_what_is_asked() -> None:
    assert render("{% date_time nothing %}", nothing=None) == "—"
    assert render('{% date_time nothing none="Never" %}', nothing=None) == "Never"


class DatesOutsideNoWrap(HTMLParser):
    """Collects the text of each date that is not inside an element told not to wrap."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[bool] = []  # for each open element: does it keep its text on one line?
        self.loose: list[str] = []
        self.seen = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            classes = (dict(attrs).get("class") or "").split()
            self.open.append("text-nowrap" in classes)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for _date in DATE.finditer(data):
            self.seen += 1
            if not any(self.open):
                self.loose.append(data.strip())


def loose_dates(page: str) -> tuple[int, list[str]]:
    body = page[page.index("<main") :]
    parser = DatesOutsideNoWrap()
    parser.feed(body)
    return parser.seen, parser.loose


@pytest.fixture
def pages(authentication_in_state: Any, alice: Any) -> list[str]:
    """GIVEN authentications with dates to show (a token, a failure with its back-off, a
    retired key...) and an API client; the pages that show them."""
    acme = authentication_in_state("Acme ERP", token_seconds=3600)
    authentication_in_state(
        "Globex CRM",
        failing_since=timezone.now(),
        consecutive_failures=2,
        next_attempt_at=timezone.now() + dt.timedelta(minutes=5),
    )
    api_client_create(actor=alice, name="Orders ETL", authentications=[acme])
    globex = HttpAuthentication.objects.get(name="Globex CRM")
    return [
        "/",
        "/authentications/",
        f"/authentications/{acme.identifier}/",
        f"/authentications/{globex.identifier}/",
        "/audit/",
    ]


def test_no_date_on_the_pages_can_wrap(alice_client: Any, pages: list[str], alice: Any) -> None:
    alice.is_superuser = True  # the API client list too
    alice.save()
    for path in [*pages, "/api-clients/"]:
        seen, loose = loose_dates(alice_client.get(path).content.decode())
        assert seen, f"{path} shows no date to check"
        assert not loose, f"{path} has dates that may wrap: {loose}"


@pytest.mark.parametrize("name", ["0001-01-01T00:00+00:01", "9999-12-31T23:59-00:01"])
def test_a_name_that_reads_as_a_date_past_the_calendar_is_shown_as_written(
    alice_client: Any, alice: Any, name: str
) -> None:
    """GIVEN an API client named like a moment that no time zone can show WHEN the audit
    trail shows the event of its creation THEN it is there as text, and the page is served."""
    api_client_create(actor=alice, name=name, authentications=[])

    page = alice_client.get("/audit/")

    assert page.status_code == 200
    assert name in page.content.decode()


def test_the_first_year_has_four_digits() -> None:
    assert "0001-01-01" in render("{% date_time moment day=True %}", moment=dt.date(1, 1, 1))
    assert "0001-01-02 03:04" in render(
        "{% date_time moment utc=True %}", moment=dt.datetime(1, 1, 2, 3, 4, tzinfo=dt.UTC)
    )
