"""The Content Security Policy: every page carries it, and no page needs what it refuses (inline
scripts, inline styles, event-handler attributes). tests/browser/ checks the same in Chromium."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from authentications.models import HttpAuthentication

pytestmark = pytest.mark.django_db


def policy_of(response) -> dict[str, list[str]]:
    directives = [part.split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


class InlineCode(HTMLParser):
    """What in a page the policy would refuse to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append(f"<{tag}> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found.extend(f"{name}= on <{tag}>" for name in names if name == "style" or name.startswith("on"))
        self.found.extend(
            f"javascript: URL on <{tag}>"
            for _, value in attrs
            if (value or "").strip().startswith("javascript:")
        )


def inline_code_in(response) -> list[str]:
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.found


@pytest.mark.parametrize("url", ["/accounts/login/", "/no-such-page/"], ids=["page", "not found"])
def test_a_page_carries_the_policy(client, url):
    """GIVEN anyone WHEN a page or an error page is served THEN it carries a policy admitting
    only nsconnect's own files, nothing inline or evaluated, no framing, no plugins, no <base>,
    and forms posting only back to nsconnect."""
    response = client.get(url)

    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    every_source = [source for sources in policy.values() for source in sources]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"} & set(every_source)


@pytest.fixture
def signed_in_admin(admin_client: Client, register, create_authentication) -> Client:
    create_authentication(register("p256"))  # Acme ERP, acme-erp
    return admin_client


PAGES = [
    "/",
    "/authentications/",
    "/authentications/new/",
    "/authentications/keys/new/",
    "/authentications/acme-erp/",
    "/authentications/acme-erp/edit/",
    "/authentications/acme-erp/delete/",
    "/authentications/acme-erp/rotate/",
    "/audit/",
    "/api-clients/",
    "/api-clients/new/",
    "/accounts/password_change/",
    "/admin/",
    "/admin/authentications/httpauthentication/",
    "/admin/authentications/httpauthentication/{authentication}/change/",
    "/admin/authentications/signingkey/",
    "/admin/authentications/auditevent/",
    "/admin/api/apiclient/",
    "/admin/auth/user/",
    "/admin/auth/user/{admin}/change/",
    "/admin/auth/group/",
]


def test_no_page_holds_inline_code(signed_in_admin, admin_user):
    """GIVEN an administrator and a saved authentication WHEN each page is served THEN none holds
    an inline script or style, a style= or on*= attribute or a javascript: URL."""
    ids = {"authentication": HttpAuthentication.objects.get().pk, "admin": admin_user.pk}
    for page in PAGES:
        url = page.format(**ids)
        response = signed_in_admin.get(url)
        assert response.status_code == 200, url
        assert inline_code_in(response) == [], url


def test_no_htmx_answer_or_one_time_page_holds_inline_code(signed_in_admin, fake_netsuite):
    """GIVEN an administrator WHEN htmx swaps in a generated key pair or a token retrieval's result,
    or a new API key is shown THEN none of those holds inline code either."""
    htmx = {"HTTP_HX_REQUEST": "true"}
    answers = [
        signed_in_admin.post("/authentications/keys/new/", {"kind": "p256", "days": "365"}, **htmx),
        signed_in_admin.post("/authentications/acme-erp/retrieve-token/", **htmx),
        signed_in_admin.post(
            "/api-clients/new/",
            {"name": "Orders ETL", "authentications": [HttpAuthentication.objects.get().pk]},
        ),
    ]

    assert [response.status_code for response in answers] == [200, 200, 200]
    assert "Access token retrieved" in answers[1].content.decode()
    assert "it will not be shown again" in answers[2].content.decode()
    for response in answers:
        assert inline_code_in(response) == []


def test_an_expired_form_is_explained_on_a_page_the_policy_allows(admin_user):
    """GIVEN a form posted without its CSRF token (e.g. after signing in again in another tab)
    WHEN Django refuses it THEN the page says so and holds no inline code (Django's own styles
    itself inline)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post("/api-clients/new/", {"name": "Orders ETL"})

    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
    assert inline_code_in(response) == []
