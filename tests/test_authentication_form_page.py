"""The HTTP Authentication form as a page: grouped as Alumio's screen, the JWT algorithm following
the key, scopes as checkboxes, and errors where the eye is (a summary on top after a failed Save,
the fields themselves marked after Retrieve)."""

from __future__ import annotations

import re

import pytest

from authentications.models import HttpAuthentication

pytestmark = pytest.mark.django_db

NEW = "/authentications/new/"
HTMX = {"HTTP_HX_REQUEST": "true"}
RSA = ["PS256", "PS384", "PS512"]
EC = ["ES256", "ES384", "ES512"]


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert select, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def summary(page: str) -> str:
    found = re.search(
        r'<div class="alert alert-danger" role="alert" id="error-summary"(.*?)</div>', page, re.DOTALL
    )
    assert found, "no error summary"
    return found.group(0)


# --- errors where the eye is ------------------------------------------------------------------


def test_a_failed_save_lists_each_problem_on_top_linked_to_its_field(alice_client, register, form_data):
    """GIVEN a form with a bad consumer key and no scope ticked WHEN saved THEN a focusable summary
    on top says there is a problem and links each message to its field, and each field still
    says its own."""
    response = alice_client.post(NEW, form_data(register("p256"), consumer_key="nope", scopes=""))
    assert response.status_code == 422
    page = response.content.decode()
    box = summary(page)
    assert 'tabindex="-1"' in box and "data-focus-on-load" in box
    assert "There is a problem" in box
    assert (
        '<a class="alert-link" href="#id_consumer_key">Consumer key</a>: A NetSuite Consumer Key is 64' in box
    )
    assert '<a class="alert-link" href="#id_scopes_0">Scopes</a>: Tick at least one scope' in box
    assert box.index("id_consumer_key") < box.index("id_scopes_0")
    # The summary comes before the fields; each field keeps its own message.
    assert page.index('id="error-summary"') < page.index('name="name"')
    assert 'id="id_consumer_key_error"' in page and 'aria-invalid="true"' in page
    assert 'id="id_scopes_0"' in page
    # Only a failed Save has it: not a fresh page, not Retrieve (its result lists the problems).
    assert 'id="error-summary"' not in alice_client.get(NEW).content.decode()
    data = {**form_data(register("p256"), consumer_key="nope"), "retrieve_token": "1"}
    assert 'id="error-summary"' not in alice_client.post(NEW, data).content.decode()


def test_a_problem_of_the_whole_form_is_in_the_summary_without_a_link(alice_client, register, form_data):
    response = alice_client.post(NEW, form_data(register("p256"), private_key="", signing_key="12345"))
    box = summary(response.content.decode())
    assert "<li>This generated key pair was not found" in box


def test_retrieve_with_fields_to_fix_marks_the_fields_themselves(
    alice_client, register, form_data, fake_netsuite
):
    """GIVEN an EC key with a PS256 algorithm WHEN Retrieve is pressed (htmx) THEN the answer is the
    whole form, swapped in for the form on screen: the JWT algorithm is marked invalid with its
    message under it, and the result under the button links to it. NetSuite is not asked."""
    data = {**form_data(register("p256"), jwt_algorithm="PS256"), "retrieve_token": "1"}
    response = alice_client.post(NEW, data, **HTMX)
    assert response.status_code == 200  # htmx swaps no error answers
    assert response["HX-Retarget"] == "#authentication-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert response["HX-Reselect"] == "#authentication-form"
    page = response.content.decode()
    select = re.search(r'<select name="jwt_algorithm"[^>]*>', page)
    assert select and "is-invalid" in select.group(0) and 'aria-invalid="true"' in select.group(0)
    assert 'id="id_jwt_algorithm_error"' in page and "choose ES256" in page
    result = page[page.index('id="retrieve-result"') :]
    assert "Fix these fields first" in result and 'href="#id_jwt_algorithm">JWT algorithm</a>' in result
    assert "data-focus-on-load" in page[page.index('id="retrieve-result"') - 200 :]
    assert fake_netsuite.requests == []
    # Once the fields are right, NetSuite's answer replaces only the result, as before.
    data["jwt_algorithm"] = "ES256"
    response = alice_client.post(NEW, data, **HTMX)
    assert "HX-Retarget" not in response
    page = response.content.decode()
    assert "<form" not in page and "Access token retrieved, valid until" in page


def test_enter_presses_save_as_the_form_s_first_submit_button(alice_client):
    """Implicit submission presses a form's first submit button: a hidden Save, before Retrieve."""
    page = alice_client.get(NEW).content.decode()
    form = page[page.index('id="authentication-form"') :]
    first = re.search(r"<button[^>]*type=\"submit\"[^>]*>", form)
    assert first and 'name="save"' in first.group(0) and "hidden" in first.group(0)
    assert form.index('name="save"') < form.index('name="retrieve_token"')


# --- the form -------------------------------------------------------------------------------------


def test_settings_and_provider_are_fixed_whatever_is_posted(alice_client, register, form_data):
    data = form_data(register("p256"))
    del data["settings_type"], data["provider"]
    assert alice_client.post(NEW, {**data, "provider": "generic"}).status_code == 302
    authentication = HttpAuthentication.objects.get()
    assert (authentication.settings_type, authentication.provider) == ("oauth2", "netsuite")


def test_scopes_are_checkboxes_whose_ticks_are_saved_comma_separated(alice_client, register, form_data):
    page = alice_client.get(NEW).content.decode()
    boxes = re.findall(r'<input type="checkbox"[^>]*name="scopes" value="([a-z_]+)"', page)
    assert boxes == ["restlets", "rest_webservices", "suite_analytics", "mcp"]
    registered = register("p256", scopes=("restlets", "suite_analytics"))
    data = {**form_data(registered), "scopes": ["restlets", "suite_analytics"]}
    assert alice_client.post(NEW, data).status_code == 302
    authentication = HttpAuthentication.objects.get()
    assert authentication.scopes == "restlets,suite_analytics"
    edit = alice_client.get(f"/authentications/{authentication.identifier}/edit/").content.decode()
    ticked = re.findall(r'<input type="checkbox"[^>]*name="scopes" value="([a-z_]+)"[^>]*checked', edit)
    assert ticked == ["restlets", "suite_analytics"]


def test_mcp_ticked_with_another_scope_is_refused_at_the_scopes(alice_client, register, form_data):
    response = alice_client.post(NEW, {**form_data(register("p256")), "scopes": ["mcp", "restlets"]})
    assert response.status_code == 422
    assert "mcp scope cannot be combined" in " ".join(response.context["form"].errors["scopes"])


@pytest.mark.parametrize(
    ("kind", "offered"),
    [
        ("p256", ["ES256"]),
        ("p384", ["ES384"]),
        ("p521", ["ES512"]),
        ("rsa3072", ["PS256", "PS384", "PS512"]),
    ],
)
def test_the_jwt_algorithm_follows_the_key_kept_for_the_form(
    alice_client, register, form_data, kind, offered
):
    """GIVEN a key pasted with a mistake elsewhere WHEN the form comes back THEN only the
    algorithms that fit the key are offered, and the next post may leave the key out."""
    # Before a key is given, it may be of any kind.
    assert options(alice_client.get(NEW).content.decode(), "jwt_algorithm") == [*RSA, *EC]
    registered = register(kind)
    response = alice_client.post(NEW, form_data(registered, consumer_key="nope"))
    page = response.content.decode()
    assert options(page, "jwt_algorithm") == offered
    draft = re.search(r'name="draft" value="([^"]+)"', page)
    assert draft
    again = alice_client.post(
        NEW, form_data(registered, private_key="", jwt_algorithm="PS256", draft=draft.group(1))
    )
    if "PS256" in offered:
        assert again.status_code == 302
    else:
        errors = again.context["form"].errors["jwt_algorithm"]
        assert errors == [
            f"PS256 cannot be used with this EC {kind.replace('p', 'P-')} key: choose {offered[0]}."
        ]


def test_the_edit_form_shows_the_stored_key_above_leave_blank_and_fits_the_algorithm(
    alice_client, register, create_authentication
):
    authentication = create_authentication(register("p384"))
    key = authentication.active_key()
    page = alice_client.get(f"/authentications/{authentication.identifier}/edit/").content.decode()
    stored = page.index('id="stored-key"')
    assert stored < page.index("Leave blank to keep the current key")
    facts = page[stored : page.index("Leave blank to keep the current key")]
    assert "EC P-384" in facts and key.fingerprint_sha256 in facts and key.certificate_id in facts
    assert options(page, "jwt_algorithm") == ["ES384"]


def test_a_generated_key_pair_offers_only_its_algorithms(alice_client):
    panel = alice_client.post(
        "/authentications/keys/new/", {"kind": "p521", "days": "30", "name": "Acme ERP"}, **HTMX
    ).content.decode()
    assert options(panel, "jwt_algorithm") == ["ES512"]
    again = alice_client.get("/authentications/keys/new/", **HTMX).content.decode()
    assert options(again, "jwt_algorithm") == [*RSA, *EC]


def test_generate_on_the_edit_form_starts_on_the_kind_of_the_key_it_replaces(
    alice_client, register, create_authentication
):
    """A key generated on the edit form is a rotation: like the wizard, it starts on the
    replaced key's kind; on the new form, on the default."""
    authentication = create_authentication(register("rsa4096"))

    edit = alice_client.get(f"/authentications/{authentication.identifier}/edit/").content.decode()
    new = alice_client.get("/authentications/new/").content.decode()

    assert re.search(r'<option value="rsa4096"[^>]*\bselected\b', edit)
    assert re.search(r'<option value="p256"[^>]*\bselected\b', new)
