"""What the HTTP Authentication form keeps between its posts, server-side: the pasted key (so an
error elsewhere needs no second paste) and what Retrieve proved (so Save stores that token, or
asks before saving credentials NetSuite refused). Never in the page, never unencrypted."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.utils import timezone

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.services import form_drafts
from tests import keyfactory
from tests.fake_netsuite import TOKEN_PATH, FakeNetSuite

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"
HTMX = {"HTTP_HX_REQUEST": "true"}


class FormPages:
    """A signed-in person at the form: posts carry the form's draft id, as the page's hidden
    field does, and every page is kept to search for secrets."""

    def __init__(self, client: Any, url: str = NEW) -> None:
        self.client = client
        self.url = url
        self.pages: list[str] = []
        self.draft = self._draft_of(self.get(url))

    def get(self, url: str) -> str:
        page = self.client.get(url).content.decode()
        self.pages.append(page)
        return page

    def post(self, data: dict[str, Any], **extra: Any) -> Any:
        response = self.client.post(self.url, {**data, "draft": self.draft}, **extra)
        self.pages.append(response.content.decode())
        return response

    def retrieve(self, data: dict[str, Any]) -> str:
        return str(self.post({**data, "retrieve_token": "1"}, **HTMX).content.decode())

    @staticmethod
    def _draft_of(page: str) -> str:
        found = re.search(r'name="draft" value="([A-Za-z0-9_-]+)"', page)
        assert found, "the form has no draft id"
        return found.group(1)


def body_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def assert_never_shown(pages: list[str], pem: str) -> None:
    for page in pages:
        assert not [line for line in body_lines(pem) if line in page]


def session_rows() -> list[str]:
    return [session.session_data for session in Session.objects.all()]


# --- the pasted key ----------------------------------------------------------------------------


def test_a_pasted_key_survives_an_error_in_another_field(alice_client, register, form_data):
    """GIVEN alice pasted a key and mistyped the consumer key WHEN she saves THEN the page shows the
    key's facts, not the key; WHEN she fixes the consumer key and saves without pasting again THEN
    it is saved with that key. The key is in no page, and in the session only encrypted."""
    registered = register("rsa3072")
    form = FormPages(alice_client)
    refused = form.post(form_data(registered, consumer_key="nope"))
    assert refused.status_code == 422
    page = refused.content.decode()
    facts = page[page.index('id="kept-key"') :]
    assert "Kept for this form: <strong>RSA 3072</strong>" in facts
    fingerprint = form_drafts.public_key_fingerprint(keyfactory.private_key("rsa3072"))
    assert fingerprint in facts
    assert "Use a different key" in facts
    assert 'name="private_key"' not in page  # nothing to paste again
    for row in session_rows():
        decoded = str(Session.objects.get(session_data=row).get_decoded())
        for text in (row, decoded):
            assert "PRIVATE KEY" not in text
            assert not [line for line in body_lines(registered.private_key_pem) if line in text]

    saved = form.post(form_data(registered, private_key=""))
    assert saved.status_code == 302
    stored = HttpAuthentication.objects.get().active_key()
    assert stored is not None
    assert body_lines(stored.private_key) == body_lines(registered.private_key_pem)
    assert_never_shown(form.pages, registered.private_key_pem)
    # Saved: the form's draft is gone from the session.
    assert all(form.draft not in str(session.get_decoded()) for session in Session.objects.all())


def test_a_passphrase_protected_key_is_kept_opened_and_the_passphrase_is_not(
    alice_client, register, form_data
):
    registered = register("p256")
    locked = keyfactory.private_pem(keyfactory.private_key("p256"), passphrase="open sesame")
    form = FormPages(alice_client)
    form.post(form_data(registered, private_key=locked, private_key_passphrase="open sesame", scopes="nope"))
    assert all(
        "open sesame" not in str(Session.objects.get(session_data=row).get_decoded())
        for row in session_rows()
    )
    assert form.post(form_data(registered, private_key="")).status_code == 302
    assert HttpAuthentication.objects.get().active_key().key_description == "EC P-256"


def test_use_a_different_key_forgets_the_kept_one(alice_client, register, form_data):
    registered = register("p256")
    form = FormPages(alice_client)
    form.post(form_data(registered, scopes="nope"))
    response = form.post({**form_data(registered, private_key=""), "forget_key": "1"})
    page = response.content.decode()
    assert "Kept for this form" not in page
    assert re.search(r'<textarea name="private_key"[^>]*autofocus', page)
    assert form.post(form_data(registered, private_key="")).status_code == 422
    assert not HttpAuthentication.objects.exists()


def test_another_form_does_not_get_the_key(alice_client, register, form_data):
    registered = register("p256")
    FormPages(alice_client).post(form_data(registered, scopes="nope"))
    other = FormPages(alice_client)
    response = other.post(form_data(registered, private_key=""))
    assert response.status_code == 422
    assert "Paste the private key" in " ".join(response.context["form"].errors["private_key"])


def test_a_session_holds_the_drafts_of_a_few_forms_for_an_hour(alice_client, register, form_data):
    registered = register("p256")
    forms = [FormPages(alice_client) for _ in range(form_drafts.MAX_DRAFTS + 3)]
    for form in forms:
        form.post(form_data(registered, scopes="nope"))
    (session,) = Session.objects.all()
    kept = session.get_decoded()[form_drafts.SESSION_KEY]
    assert list(kept) == [form.draft for form in forms[-form_drafts.MAX_DRAFTS :]]
    newest = forms[-1]
    with time_machine.travel(timezone.now() + form_drafts.DRAFT_LIFETIME + dt.timedelta(minutes=1)):
        response = newest.post(form_data(registered, private_key=""))
    assert "Paste the private key" in " ".join(response.context["form"].errors["private_key"])


# --- what Retrieve proved --------------------------------------------------------------------


def test_the_token_retrieved_on_the_form_is_stored_on_save(
    alice_client, register, form_data, fake_netsuite: FakeNetSuite
):
    """GIVEN alice pressed Retrieve on the new form and got a token WHEN she saves the same values
    THEN the new authentication has that token (no second request), the detail page says until
    when it is valid, and the audit trail says where it came from, without the token."""
    registered = register("p256")
    form = FormPages(alice_client)
    assert "Access token retrieved" in form.retrieve(form_data(registered))
    (token,) = fake_netsuite.issued_tokens
    saved = form.post(form_data(registered))
    assert saved.status_code == 302
    authentication = HttpAuthentication.objects.get()
    stored = AccessToken.objects.get(authentication=authentication)
    assert stored.value == token
    assert stored.signing_key == authentication.active_key()
    assert stored.expires_at > timezone.now() + dt.timedelta(minutes=55)
    assert authentication.last_success_at == stored.obtained_at
    assert sum(1 for request in fake_netsuite.requests if request.path == TOKEN_PATH) == 1
    detail = alice_client.get(saved["Location"]).content.decode()
    assert f"Valid until {timezone.localtime(stored.expires_at):%Y-%m-%d %H:%M}" in detail
    assert "None yet" not in detail
    assert "with the access token retrieved on the form" in detail
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_RETRIEVED)
    assert event.details["retrieved_by"] == "Retrieve on the form, before Save"
    assert token not in str(event.details) and token not in detail
    for row in session_rows():
        assert token not in row and token not in str(Session.objects.get(session_data=row).get_decoded())


@pytest.mark.parametrize(
    "change",
    [{"scopes": "restlets"}, {"jwt_algorithm": "PS384"}, {"certificate_id": "another-certificate-id"}],
    ids=["scopes", "algorithm", "certificate ID"],
)
def test_values_changed_after_retrieve_get_no_token(
    alice_client, register, form_data, fake_netsuite: FakeNetSuite, change: dict[str, str]
):
    registered = register("rsa3072")
    form = FormPages(alice_client)
    assert "Access token retrieved" in form.retrieve(form_data(registered))
    saved = form.post(form_data(registered, **change))
    assert saved.status_code == 302, saved.content.decode()
    assert not AccessToken.objects.exists()
    detail = alice_client.get(saved["Location"]).content.decode()
    assert "The worker retrieves its first token within a minute" in detail


def test_a_consumer_key_changed_after_retrieve_gets_no_token(
    alice_client, register, form_data, fake_netsuite
):
    registered = register("p256")
    other = register("p256")
    form = FormPages(alice_client)
    form.retrieve(form_data(registered))
    assert form.post(form_data(registered, consumer_key=other.consumer_key)).status_code == 302
    assert not AccessToken.objects.exists()


def test_a_token_too_close_to_its_end_is_not_stored(alice_client, register, form_data, fake_netsuite):
    registered = register("p256")
    form = FormPages(alice_client)
    fake_netsuite.expires_in = 90
    form.retrieve(form_data(registered))
    assert form.post(form_data(registered)).status_code == 302
    assert not AccessToken.objects.exists()


def test_a_refused_retrieve_makes_save_ask_first(alice_client, register, form_data, fake_netsuite):
    """GIVEN NetSuite refused the values at Retrieve WHEN alice saves them THEN nothing is saved yet
    and the form asks "save anyway?" with NetSuite's answer; WHEN she presses Save anyway THEN it
    is saved, without a token."""
    registered = register("p256")
    form = FormPages(alice_client)
    fake_netsuite.fail_next("invalid_client")
    assert "invalid_client" in form.retrieve(form_data(registered))
    asked = form.post(form_data(registered, private_key=""))
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "NetSuite refused these credentials: save anyway?" in page
    assert "invalid_client" in page
    assert re.search(r'<button type="submit" name="save_anyway" value="1"[^>]*>Save anyway</button>', page)
    assert not HttpAuthentication.objects.exists()
    saved = form.post({**form_data(registered, private_key=""), "save_anyway": "1"})
    assert saved.status_code == 302
    assert HttpAuthentication.objects.count() == 1 and not AccessToken.objects.exists()


def test_save_does_not_ask_when_the_values_changed_since_the_refusal(
    alice_client, register, form_data, fake_netsuite
):
    registered = register("p256")
    form = FormPages(alice_client)
    fake_netsuite.fail_next("invalid_scope")
    form.retrieve(form_data(registered))
    assert form.post(form_data(registered, scopes="restlets")).status_code == 302


def test_save_does_not_ask_when_netsuite_did_not_answer(alice_client, register, form_data, fake_netsuite):
    registered = register("p256")
    form = FormPages(alice_client)
    fake_netsuite.fail_next("service_unavailable")
    assert "503" in form.retrieve(form_data(registered))
    assert form.post(form_data(registered)).status_code == 302


def test_the_edit_form_asks_too_but_keeps_no_token(
    alice_client, register, create_authentication, form_data, fake_netsuite
):
    """On edit a token is never taken from the form (the worker or Retrieve on the page gets one
    for the record as saved); a refusal still asks."""
    registered = register("p256")
    authentication = create_authentication(registered)
    form = FormPages(alice_client, f"/authentications/{authentication.identifier}/edit/")
    fake_netsuite.fail_next("invalid_client")
    form.retrieve(form_data(registered, private_key=""))
    asked = form.post(form_data(registered, private_key="", name="Acme 2"))
    assert "save anyway?" in asked.content.decode()
    assert (
        form.post({**form_data(registered, private_key="", name="Acme 2"), "save_anyway": "1"}).status_code
        == 302
    )
    form.retrieve(form_data(registered, private_key="", name="Acme 3"))
    assert form.post(form_data(registered, private_key="", name="Acme 3")).status_code == 302
    assert not AccessToken.objects.exists()
    assert SigningKey.objects.count() == 1


def test_retrieve_without_its_permission_is_refused_before_the_key_is_read_or_kept(
    client, django_user_model, register, form_data
):
    """GIVEN a user who may create authentications but not retrieve tokens WHEN she presses
    Retrieve with a pasted key THEN she is refused, NetSuite is not asked, and nothing of the
    key is kept in her session."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("bob", password="x")
    user.user_permissions.add(Permission.objects.get(codename="add_httpauthentication"))
    client.force_login(user)
    registered = register("rsa3072")
    form = FormPages(client)

    refused = form.post({**form_data(registered), "retrieve_token": "1"})

    assert refused.status_code == 403
    assert all(form_drafts.SESSION_KEY not in session.get_decoded() for session in Session.objects.all())


def test_a_draft_id_is_only_one_the_form_could_have_made(alice_client) -> None:
    """An id with a line end after it (which `$` lets through) gets a new one instead."""
    client_session = alice_client.session
    posted = "B" * 22 + "\n"
    assert form_drafts.FormDraft(client_session, posted).id != posted
    assert form_drafts.FormDraft(client_session, "B" * 22).id == "B" * 22
