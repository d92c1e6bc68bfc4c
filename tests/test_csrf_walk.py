"""Every POST needs its CSRF token: the URL conf is walked, and each view is POSTed to, as a
signed-in superuser, without one. Only the token API, which takes an API key and never a
session cookie, is exempt, and it refuses POST anyway."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

pytestmark = pytest.mark.django_db

# The views that take no CSRF token: the token API's, which authenticate with an API key in a
# header. A browser sends that with no request, so a cross-site page cannot make use of it.
EXPECTED_EXEMPT = {"api.views.token", "api.views.openapi_document", "api.views.not_found"}

# What Django's CSRF check logs when it refuses a request (a 403 for another reason logs otherwise).
CSRF_LOGGER = "django.security.csrf"

# One value per URL converter: enough to resolve, since the CSRF check comes before the view.
SAMPLE_FOR_CONVERTER = {"int": "1", "slug": "acme-erp", "str": "acme-erp", "path": "1", "uuid": ""}
SAMPLE_FOR_NAME = {"uidb64": "MQ", "token": "set-password"}
_ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def example_of_regex(regex: str) -> str:
    """A short string a URL regex matches: its first alternative, each repeat once or its minimum."""

    def build(parsed: Any) -> str:
        out = []
        for op, value in parsed:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(value))
            elif name == "IN":
                out.append(build([value[0]]) if str(value[0][0]) != "NEGATE" else "x")
            elif name == "RANGE":
                out.append(chr(value[0]))
            elif name == "CATEGORY":
                out.append("1" if "DIGIT" in str(value) else "a")
            elif name == "ANY":
                out.append("x")
            elif name == "BRANCH":
                out.append(build(value[1][0]))
            elif name == "SUBPATTERN":
                out.append(build(value[-1]))
            elif name in ("MAX_REPEAT", "MIN_REPEAT"):
                low, high, item = value
                # Once at least: ".*" as "" would often be another pattern's URL.
                out.append(build(item) * max(low, min(high, 1)))
            elif name == "AT":
                continue
            else:
                raise AssertionError(f"no example for {name} in {regex!r}")
        return "".join(out)

    return build(sre_parse.parse(regex))


def example_of(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return _ROUTE_PARAMETER.sub(
            lambda m: SAMPLE_FOR_NAME.get(m["name"]) or SAMPLE_FOR_CONVERTER[m["converter"] or "str"],
            str(pattern),
        )
    assert isinstance(pattern, RegexPattern), pattern
    return example_of_regex(str(pattern))


def every_view(
    patterns: list[Any] | None = None, prefix: str = "/"
) -> Iterator[tuple[str, Callable[..., Any]]]:
    """(an URL, its view) for every pattern of the URL conf, included ones too."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        url = prefix + example_of(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from every_view(entry.url_patterns, url)
        else:
            assert isinstance(entry, URLPattern)
            yield url, entry.callback


def view_name(view: Callable[..., Any]) -> str:
    return f"{view.__module__}.{getattr(view, '__qualname__', view.__name__)}"


@pytest.fixture
def csrf_client(django_user_model: Any) -> Client:
    """A superuser signed in, in a client that checks CSRF like a browser's requests are checked."""
    root = django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password=None
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    # The browser holds the CSRF cookie, as after any page: a cross-site form sends it, not the token.
    client.get("/authentications/new/")
    assert client.cookies["csrftoken"].value
    return client


def test_the_walk_reaches_every_view():
    """The walk finds the pages the dashboard has, each URL resolving to the view it was made for
    (so a POST below reaches the view it is meant to)."""
    views = list(every_view())
    shadowed = {url for url, view in views if resolve(url).func is not view}
    # The admin's own password change is replaced by the throttled one (nsconnect/urls.py).
    assert shadowed == {"/admin/password_change/"}
    names = {view_name(view) for _, view in views}
    for expected in (
        "authentications.views.authentication_form.authentication_create",
        "authentications.views.rotation.rotate_activate",
        "api.client_views.client_create",
        "api.views.token",
        "django.contrib.admin.sites.AdminSite.login",
    ):
        assert any(name.startswith(expected) for name in names), expected
    assert len(views) > 60


def test_only_the_token_api_is_exempt_from_csrf():
    """GIVEN every view WHEN their CSRF exemptions are listed THEN they are exactly the token API's."""
    exempt = {view_name(view) for _, view in every_view() if getattr(view, "csrf_exempt", False)}
    assert exempt == EXPECTED_EXEMPT


def refused_for_csrf(caplog: Any) -> bool:
    return any(r.name == CSRF_LOGGER and "CSRF token missing" in r.getMessage() for r in caplog.records)


def test_every_post_without_a_csrf_token_is_refused(csrf_client, caplog):
    """GIVEN a signed-in superuser's session WHEN every view is POSTed to without a CSRF token
    (what a cross-site form would do) THEN each answers 403 for the missing token, except the
    token API's, which answer 405 (GET only)."""
    unprotected = []
    for url, view in every_view():
        caplog.clear()
        response = csrf_client.post(url, {"name": "x"})
        if view_name(view) in EXPECTED_EXEMPT:
            assert response.status_code == 405, url
            assert not refused_for_csrf(caplog)
        elif response.status_code != 403 or not refused_for_csrf(caplog):
            unprotected.append(f"{url} ({view_name(view)}): {response.status_code}")
    assert not unprotected, "POST without a CSRF token accepted by:\n" + "\n".join(unprotected)


def test_the_same_post_with_its_token_passes_the_check(csrf_client, caplog):
    """The control: with the token the same POST is not refused for CSRF (so the 403s above are
    the missing token's, not the superuser's or the URL's)."""
    token = csrf_client.cookies["csrftoken"].value
    caplog.clear()
    response = csrf_client.post("/authentications/new/", {"csrfmiddlewaretoken": token, "name": "x"})
    assert response.status_code == 422
    assert not refused_for_csrf(caplog)
