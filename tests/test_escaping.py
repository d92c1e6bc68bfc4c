"""Markup typed into any text field (or sent back by NetSuite) is shown as text: escaped on every
page that shows it and in the HTML of every mail, never run as HTML or script."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from api.models import ApiClient
from authentications import emails
from authentications.models import HttpAuthentication, SigningKey
from tests import keyfactory
from tests.conftest import Registered, new_certificate_id, new_consumer_key

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
# 56 characters: it fits a name (100), an API client's name and a certificate's common name (64).
HOSTILE = f"{SCRIPT} {IMAGE}"
# A valid address (a quoted local part may hold < > ( ) /), so it is stored and shown.
HOSTILE_RECIPIENT = '"<script>alert(2)</script>"@example.com'
# Any of these in a page is the markup itself (a certificate subject writes "<" as "\\<").
RAW = ["<script>alert", "<script\\>alert", "<img src=x"]
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SUBJECT_ESCAPED = "CN=\\&lt;script\\&gt;alert(1)"


def assert_escaped(page: str, where: str, *, shows: tuple[str, ...] = (ESCAPED,)) -> None:
    """No hostile markup as markup; the escaped text of what the page shows instead."""
    for raw in RAW:
        assert raw not in page, f"{raw!r} unescaped on {where}"
    for escaped in shows:
        assert escaped in page, f"{escaped!r} not shown on {where}"


def get_page(client: Client, url: str, **headers: Any) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


@pytest.fixture
def root(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser(
        username="root", email="root@example.com", password=None
    )


@pytest.fixture
def root_client(client: Client, root: Any) -> Client:
    client.force_login(root)
    return client


@pytest.fixture
def hostile(root_client, fake_netsuite, form_data) -> HttpAuthentication:
    """An authentication saved through the form with markup in every free-text field: its name,
    its alert recipients and its certificate's subject; a pending rotation key, a key pair and an
    API client named with markup (which has fetched a token); a retrieval NetSuite refused with
    markup in its answer."""
    key = keyfactory.private_key("p256", 1)
    registered = Registered(
        kind="p256",
        private_key_pem=keyfactory.private_pem(key),
        certificate_pem=keyfactory.certificate_pem(key, common_name=HOSTILE),
        certificate_id=new_certificate_id(),
        consumer_key=new_consumer_key(),
    )
    fake_netsuite.register(
        consumer_key=registered.consumer_key,
        certificate_id=registered.certificate_id,
        certificate_pem=registered.certificate_pem,
        scopes=("restlets", "rest_webservices"),
    )
    data = form_data(registered, name=HOSTILE, alert_recipients=f"ops@example.com, {HOSTILE_RECIPIENT}")
    response = root_client.post("/authentications/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    authentication = HttpAuthentication.objects.get()
    base = f"/authentications/{authentication.identifier}"

    fake_netsuite.answer_token_next(400, {"error": "<script>alert(3)</script>"})
    assert root_client.post(f"{base}/retrieve-token/").status_code == 302
    assert root_client.post(f"{base}/retrieve-token/").status_code == 302
    response = root_client.post(
        f"{base}/rotate/generate/", {"kind": "p256", "days": "365", "common_name": HOSTILE}
    )
    assert response.status_code == 302
    response = root_client.post(
        "/authentications/keys/new/", {"kind": "p256", "days": "365", "common_name": HOSTILE}
    )
    assert response.status_code == 302
    response = root_client.post(
        "/api-clients/new/", {"name": HOSTILE, "authentications": [authentication.pk]}
    )
    assert response.status_code == 200
    assert_escaped(response.content.decode(), "the page that shows the new API key")
    # The API client fetches a token once, so that its usage is listed too.
    api = Client().get(
        f"/api/v1/authentications/{authentication.identifier}/token",
        HTTP_AUTHORIZATION=f"Bearer {response.context['key']}",
    )
    assert api.status_code == 200
    authentication.refresh_from_db()
    return authentication


def test_every_page_shows_markup_as_text(root_client, hostile):
    """GIVEN records whose text fields hold <script> and an <img onerror> WHEN every page that
    shows them is opened THEN the markup is escaped there, never sent as markup."""
    base = f"/authentications/{hostile.identifier}"
    pending = SigningKey.objects.get(authentication=hostile, state=SigningKey.State.PENDING)
    key_pair = SigningKey.objects.get(authentication=None)
    api_client = ApiClient.objects.get()
    active = hostile.active_key()
    pages = [
        "/",
        "/authentications/",
        f"{base}/",
        f"{base}/edit/",
        f"{base}/delete/",
        f"{base}/rotate/",
        "/audit/",
        f"/audit/?authentication={hostile.pk}",
        "/api-clients/",
        f"/api-clients/{api_client.pk}/revoke/",
        "/admin/authentications/httpauthentication/",
        f"/admin/authentications/httpauthentication/{hostile.pk}/change/",
        "/admin/authentications/signingkey/",
        f"/admin/authentications/signingkey/{active.pk}/change/",
        f"/admin/authentications/signingkey/{pending.pk}/change/",
        "/admin/authentications/auditevent/",
        "/admin/api/apiclient/",
        f"/admin/api/apiclient/{api_client.pk}/change/",
        "/admin/api/apiusage/",
        "/admin/authentications/accesstoken/",
    ]
    for url in pages:
        assert_escaped(get_page(root_client, url), url)
    # The certificate subjects, and the recipients, where they are shown.
    for url in (f"{base}/", f"{base}/rotate/", f"/authentications/keys/{key_pair.pk}/"):
        assert_escaped(get_page(root_client, url), url, shows=(SUBJECT_ESCAPED,))
    assert_escaped(get_page(root_client, f"{base}/edit/"), "the edit page", shows=("&lt;script&gt;alert(2)",))


def test_pages_that_repeat_what_was_asked_show_it_as_text(root_client, hostile, fake_netsuite):
    """GIVEN markup in query parameters and refused form values WHEN the page repeats them (in a
    field, a link or an error message) THEN it is escaped."""
    base = f"/authentications/{hostile.identifier}"
    query = urlencode({"for": HOSTILE, "name": HOSTILE})
    assert_escaped(get_page(root_client, f"/authentications/keys/new/?{query}"), "the key pair form")
    query = urlencode({"actor": HOSTILE, "action": HOSTILE, "authentication": HOSTILE})
    assert_escaped(get_page(root_client, f"/audit/?{query}"), "the filtered audit trail")
    assert_escaped(
        get_page(root_client, "/authentications/new/?" + urlencode({"signing_key": HOSTILE})),
        "the new form",
        shows=(),
    )

    refused = root_client.post(
        "/authentications/new/",
        {"name": HOSTILE, "alert_recipients": SCRIPT, "token_url": HOSTILE, "scopes": HOSTILE},
    )
    assert refused.status_code == 422
    assert_escaped(refused.content.decode(), "the refused form")
    errors = refused.context["form"].errors
    assert SCRIPT in " ".join(errors["alert_recipients"])  # named in the message, as text

    for hx in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = root_client.post(f"{base}/test-request/", {"path": HOSTILE}, **hx)
        assert response.status_code == 200
        assert_escaped(response.content.decode(), "the test request result", shows=())
        # NetSuite's answer, shown as it came.
        fake_netsuite.answer_next(200, {"items": ["<script>alert(3)</script>"]}, on="record")
        response = root_client.post(f"{base}/test-request/", {"path": ""}, **hx)
        assert_escaped(response.content.decode(), "NetSuite's answer", shows=("&lt;script&gt;alert(3)",))
        response = root_client.post(f"{base}/rotate/certificate-id/", {"certificate_id": HOSTILE}, **hx)
        assert_escaped(response.content.decode(), "the refused Certificate ID", shows=())


def html_part(message: Any) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html


@pytest.mark.parametrize("recovered", [False, True])
def test_refresh_alert_mails_show_markup_as_text(hostile, mailoutbox, recovered):
    """GIVEN an authentication named with markup, whose refresh fails with markup in NetSuite's
    answer WHEN its refresh alert (or recovery) is mailed THEN the HTML mail shows the markup
    escaped, and the text mail and subject show it as typed (plain text runs nothing)."""
    HttpAuthentication.objects.filter(pk=hostile.pk).update(
        failing_since=timezone.now(), consecutive_failures=3, last_success_at=timezone.now()
    )
    emails.send_refresh_alert(hostile.pk, recovered=recovered)
    (message,) = mailoutbox
    assert HOSTILE_RECIPIENT in message.to
    assert_escaped(html_part(message), "the HTML mail")
    assert HOSTILE in message.subject
    assert HOSTILE in message.body
    assert "&lt;" not in message.body + message.subject


@pytest.mark.parametrize("days_ahead", [20, -1])
def test_certificate_expiry_mails_show_markup_as_text(hostile, mailoutbox, days_ahead):
    """GIVEN an authentication and a certificate subject holding markup WHEN the certificate's
    expiry (or its having expired) is mailed THEN the HTML mail shows the markup escaped, and
    the text mail and subject show it as typed."""
    active = hostile.active_key()
    now = active.effective_expires_at - dt.timedelta(days=days_ahead)
    emails.send_certificate_expiry(active.pk, threshold_days=0 if days_ahead < 0 else 30, now=now)
    (message,) = mailoutbox
    assert_escaped(html_part(message), "the HTML mail")
    assert HOSTILE in message.subject
    assert HOSTILE in message.body
    assert not re.search(r"&(lt|gt|quot|#x27);", message.body + message.subject)
