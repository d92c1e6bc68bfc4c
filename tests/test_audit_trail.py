"""The audit trail: every action leaves one event without secrets; /audit/ lists and filters
them; nobody can change or delete them; deleting an authentication keeps its trail."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from api import services as api_services
from api.models import ApiClient
from authentications import emails
from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services import audit_trail, token_single_flight
from tests import scale_seed
from tests.api.consumer import get_token
from tests.conftest import Registered, put_in_role
from tests.fake_netsuite import FakeNetSuite

pytestmark = pytest.mark.django_db

WEB = "127.0.0.1"  # REMOTE_ADDR of Django's test client
API_KEY = re.compile(r"nsc_[A-Za-z0-9_-]{43}")
T0 = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def sam(django_user_model: Any) -> Any:
    """Sam is staff and a key administrator: Sam deletes authentications and manages API keys."""
    user = django_user_model.objects.create_user(username="sam", password="x", is_staff=True)
    return put_in_role(user, "Key administrators")


@pytest.fixture
def sam_client(sam: Any) -> Client:
    client = Client()
    client.force_login(sam)
    return client


# --- Every action leaves exactly the expected event, with no secret in it -----------------------


@dataclass
class World:
    """A saved authentication "Acme ERP" NetSuite knows, and an API key that may read it."""

    alice: Client
    sam: Client
    anonymous: Client
    acme: HttpAuthentication
    registered: Registered
    api_client: ApiClient
    form_data: Callable[..., dict[str, str]]
    register: Callable[..., Registered]
    fake_netsuite: FakeNetSuite
    # Secrets an action creates outside the database (API keys shown once), to look for too.
    api_keys: list[str] = field(default_factory=list)

    def secrets(self) -> list[str]:
        key_lines = [
            line
            for signing_key in SigningKey.objects.all()
            for line in signing_key.private_key.splitlines()
            if line and not line.startswith("-----")
        ]
        assertions = [
            value
            for request in self.fake_netsuite.requests
            for value in request.form.get("client_assertion", [])
        ]
        return [*key_lines, *self.fake_netsuite.issued_tokens, *assertions, *self.api_keys]


@pytest.fixture
def world(
    alice_client: Client,
    sam_client: Client,
    sam: Any,
    register: Any,
    create_authentication: Any,
    form_data: Any,
    fake_netsuite: FakeNetSuite,
) -> World:
    registered = register("p256")
    acme = create_authentication(registered, alert_recipients="ops@example.com")
    issued = api_services.api_client_create(actor=sam, name="Orders ETL", authentications=[acme])
    return World(
        alice=alice_client,
        sam=sam_client,
        anonymous=Client(),
        acme=acme,
        registered=registered,
        api_client=issued.client,
        form_data=form_data,
        register=register,
        fake_netsuite=fake_netsuite,
        api_keys=[issued.key],
    )


def create_in_browser(world: World) -> None:
    data = world.form_data(world.register("rsa3072"), name="Globex CRM")
    assert world.alice.post("/authentications/new/", data).status_code == 302


def edit_in_browser(world: World) -> None:
    data = world.form_data(world.registered, private_key="", scopes="restlets")
    assert world.alice.post("/authentications/acme-erp/edit/", data).status_code == 302


def delete_in_browser(world: World) -> None:
    assert world.sam.post("/authentications/acme-erp/delete/").status_code == 302


def press_retrieve(world: World) -> None:
    assert world.alice.post("/authentications/acme-erp/retrieve-token/").status_code == 302


def press_retrieve_while_netsuite_is_down(world: World) -> None:
    # One 503: a transient failure, so no alert mail joins the event.
    world.fake_netsuite.fail_next("service_unavailable")
    press_retrieve(world)
    assert world.fake_netsuite.requests[-1].status == 503


def scheduler_refreshes(world: World) -> None:
    assert token_single_flight.refresh_scheduled(world.acme.pk).startswith("valid until")


def command_line_retrieves(world: World) -> None:
    call_command("retrieve_token", "acme-erp", stdout=None)


def api_client_fetches(world: World) -> None:
    response = get_token(world.anonymous, "acme-erp", world.api_keys[0])
    assert response.status_code == 200


def send_test_request(world: World) -> None:
    # No token yet: the test request retrieves one first, and that retrieval is what is audited.
    assert world.alice.post("/authentications/acme-erp/test-request/").status_code == 200


def mail_refresh_failing(world: World) -> None:
    emails.send_refresh_alert(world.acme.pk, recovered=False)


def mail_refresh_recovered(world: World) -> None:
    emails.send_refresh_alert(world.acme.pk, recovered=True)


def mail_certificate_expiring(world: World) -> None:
    signing_key = world.acme.active_key()
    assert signing_key is not None
    emails.send_certificate_expiry(signing_key.pk, threshold_days=30, now=timezone.now())


def generate_key_pair(world: World) -> None:
    data = {"kind": "p256", "days": "730", "common_name": "Acme ERP"}
    assert world.alice.post("/authentications/keys/new/", data).status_code == 302


def issue_api_key(world: World) -> None:
    data = {"name": "Billing sync", "authentications": [world.acme.pk]}
    page = world.sam.post("/api-clients/new/", data).content.decode()
    world.api_keys.extend(set(API_KEY.findall(page)))
    assert len(world.api_keys) == 2


def revoke_api_key(world: World) -> None:
    assert world.sam.post(f"/api-clients/{world.api_client.pk}/revoke/").status_code == 302


@dataclass(frozen=True)
class Expected:
    action: str
    actor: str
    # The authentication's name, or None for events about no authentication (key pairs, API keys).
    authentication: str | None
    ip_address: str | None
    # False when the authentication is gone: the event keeps only its name.
    linked: bool = True


ACME = "Acme ERP"
EVERY_ACTION = [
    pytest.param(
        create_in_browser, Expected("authentication.create", "alice", "Globex CRM", WEB), id="create"
    ),
    pytest.param(edit_in_browser, Expected("authentication.update", "alice", ACME, WEB), id="edit"),
    pytest.param(
        delete_in_browser, Expected("authentication.delete", "sam", ACME, WEB, linked=False), id="delete"
    ),
    pytest.param(press_retrieve, Expected("token.retrieved", "alice", ACME, WEB), id="token-button"),
    pytest.param(
        press_retrieve_while_netsuite_is_down,
        Expected("token.failed", "alice", ACME, WEB),
        id="token-button-fails",
    ),
    pytest.param(
        scheduler_refreshes, Expected("token.retrieved", "scheduler", ACME, None), id="token-scheduled"
    ),
    pytest.param(
        command_line_retrieves, Expected("token.retrieved", "command line", ACME, None), id="token-command"
    ),
    pytest.param(
        api_client_fetches, Expected("token.retrieved", "api client Orders ETL", ACME, WEB), id="token-api"
    ),
    pytest.param(send_test_request, Expected("token.retrieved", "alice", ACME, WEB), id="token-test-request"),
    pytest.param(
        mail_refresh_failing, Expected("alert.sent", "scheduler", ACME, None), id="mail-refresh-failing"
    ),
    pytest.param(
        mail_refresh_recovered, Expected("alert.sent", "scheduler", ACME, None), id="mail-refresh-recovered"
    ),
    pytest.param(
        mail_certificate_expiring, Expected("alert.sent", "scheduler", ACME, None), id="mail-certificate"
    ),
    pytest.param(generate_key_pair, Expected("key.generated", "alice", None, WEB), id="key-pair-generated"),
    pytest.param(issue_api_key, Expected("api_client.create", "sam", None, WEB), id="api-key-issued"),
    pytest.param(revoke_api_key, Expected("api_client.revoke", "sam", None, WEB), id="api-key-revoked"),
]


@pytest.mark.parametrize(("act", "expected"), EVERY_ACTION)
def test_every_action_leaves_exactly_the_expected_event_without_secrets(
    world: World, act: Callable[[World], None], expected: Expected, django_capture_on_commit_callbacks: Any
) -> None:
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # Looked for before and after: deleting an authentication deletes its keys too.
    secrets_before = world.secrets()
    # On-commit work (alert mails) runs too, so an event it would add is counted.
    with django_capture_on_commit_callbacks(execute=True):
        act(world)

    (event,) = AuditEvent.objects.filter(pk__gt=before)
    assert event.action == expected.action
    assert event.actor_label == expected.actor
    assert event.ip_address == expected.ip_address
    assert event.authentication_name == (expected.authentication or "")
    if expected.authentication is None or not expected.linked:
        assert event.authentication is None
    else:
        assert event.authentication is not None
        assert event.authentication.name == expected.authentication
    details = json.dumps(event.details)
    secrets = [*secrets_before, *world.secrets()]
    assert world.api_keys and any(line in world.registered.private_key_pem for line in secrets)
    assert [secret for secret in secrets if secret in details] == []
    # Nor does the audit trail page show one.
    page = world.alice.get("/audit/").content.decode()
    assert [secret for secret in secrets if secret in page] == []


def test_token_actions_had_secrets_to_look_for(world: World) -> None:
    """The secret check above is not vacuous: a retrieval leaves a token and an assertion to look for."""
    press_retrieve(world)
    assert world.fake_netsuite.issued_tokens
    assert world.fake_netsuite.requests[0].form["client_assertion"][0] in world.secrets()


# --- /audit/ ----------------------------------------------------------------------------------


def record(
    action: str, actor: str, authentication: HttpAuthentication | None, at: dt.datetime, **details: Any
) -> None:
    with time_machine.travel(at, tick=False):
        audit_trail.audit(action=action, authentication=authentication, actor=actor, details=details)


def shown(response: Any) -> list[str]:
    """The events of a page as "actor action authentication-name" lines, in page order."""
    return [
        f"{event.actor_label} {event.action} {event.authentication_name}".strip()
        for event in response.context["page_obj"]
    ]


@pytest.fixture
def trail(register: Any, create_authentication: Any) -> dict[str, Any]:
    """GIVEN events by alice, the scheduler and sam, about Acme ERP, Globex CRM, a deleted
    Initech HR, and no authentication, one minute apart."""
    acme = create_authentication(register("p256"))
    globex = create_authentication(register("p256"), name="Globex CRM")
    initech = create_authentication(register("p256"), name="Initech HR")
    AuditEvent.objects.all().delete()  # the creations above; the trail starts here
    rows = [
        ("token.retrieved", "alice", acme),
        ("token.retrieved", "scheduler", acme),
        ("authentication.update", "alice", globex),
        ("authentication.delete", "alice", initech),
        ("api_client.create", "sam", None),
        ("alert.sent", "scheduler", globex),
    ]
    for minute, (action, actor, authentication) in enumerate(rows):
        record(action, actor, authentication, T0 + dt.timedelta(minutes=minute))
    initech.delete()
    return {"acme": acme, "globex": globex}


def test_it_lists_newest_first_with_each_column(alice_client: Client, trail: dict[str, Any]) -> None:
    response = alice_client.get("/audit/")
    assert response.status_code == 200
    assert shown(response) == [
        "scheduler alert.sent Globex CRM",
        "sam api_client.create",
        "alice authentication.delete Initech HR",
        "alice authentication.update Globex CRM",
        "scheduler token.retrieved Acme ERP",
        "alice token.retrieved Acme ERP",
    ]
    page = response.content.decode()
    assert "2030-01-01 09:05:00" in page  # UTC
    assert "Alert sent" in page and "API client created" in page  # the action's display name
    assert '<a href="/authentications/globex-crm/">Globex CRM</a>' in page
    assert 'Initech HR <span class="text-body-secondary">(deleted)</span>' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "authentication={acme}",
            ["scheduler token.retrieved Acme ERP", "alice token.retrieved Acme ERP"],
            id="authentication",
        ),
        pytest.param(
            "authentication=deleted:Initech HR",
            ["alice authentication.delete Initech HR"],
            id="deleted-authentication",
        ),
        pytest.param("actor=sam", ["sam api_client.create"], id="actor"),
        pytest.param(
            "action=token.retrieved",
            ["scheduler token.retrieved Acme ERP", "alice token.retrieved Acme ERP"],
            id="action",
        ),
        pytest.param(
            "actor=alice&action=token.retrieved", ["alice token.retrieved Acme ERP"], id="actor-and-action"
        ),
        pytest.param(
            "authentication={globex}&actor=scheduler",
            ["scheduler alert.sent Globex CRM"],
            id="authentication-and-actor",
        ),
        pytest.param(
            "authentication={acme}&actor=alice&action=token.retrieved",
            ["alice token.retrieved Acme ERP"],
            id="all-three",
        ),
        pytest.param("authentication={globex}&action=token.retrieved", [], id="nothing-matches"),
    ],
)
def test_each_filter_narrows_the_list(
    alice_client: Client, trail: dict[str, Any], query: str, expected: list[str]
) -> None:
    url = "/audit/?" + query.format(acme=trail["acme"].pk, globex=trail["globex"].pk)
    response = alice_client.get(url)
    assert response.status_code == 200
    assert shown(response) == expected


def test_the_filters_offer_names_actors_and_actions(alice_client: Client, trail: dict[str, Any]) -> None:
    page = alice_client.get("/audit/").content.decode()
    assert f'<option value="{trail["acme"].pk}">Acme ERP</option>' in page
    assert '<option value="deleted:Initech HR">Initech HR (deleted)</option>' in page
    assert '<option value="scheduler">scheduler</option>' in page
    assert '<option value="key.activated">Key activated</option>' in page


def test_an_unknown_filter_value_shows_an_error_and_no_events(
    alice_client: Client, trail: dict[str, Any]
) -> None:
    response = alice_client.get("/audit/?authentication=99999")
    assert response.status_code == 200
    assert shown(response) == []
    assert "Select a valid choice" in response.content.decode()


def link(page: str, label: str) -> str:
    """The address of a page link ("Older", "Newer", "Newest"), as the browser would follow it."""
    found = re.search(rf'<a class="page-link" href="([^"]+)">{label}</a>', page)
    assert found, f"no {label} link"
    return "/audit/" + found.group(1).replace("&amp;", "&")


def test_it_pages_fifty_at_a_time_and_page_links_keep_the_filters(
    alice_client: Client, alice: Any, register: Any, create_authentication: Any
) -> None:
    acme = create_authentication(register("p256"))
    for n in range(60):
        record("token.retrieved", "scheduler", acme, T0 + dt.timedelta(minutes=n), n=n)
        record("token.retrieved", "alice", acme, T0 + dt.timedelta(minutes=n, seconds=30), n=n)

    first = alice_client.get("/audit/?actor=scheduler&action=token.retrieved")
    assert [event.details["n"] for event in first.context["page_obj"]] == list(range(59, 9, -1))
    page = first.content.decode()
    assert "Newer</a>" not in page
    older = link(page, "Older")
    assert older.startswith("/audit/?actor=scheduler&action=token.retrieved&older=")

    second = alice_client.get(older)
    assert [event.details["n"] for event in second.context["page_obj"]] == list(range(9, -1, -1))
    assert {event.actor_label for event in second.context["page_obj"]} == {"scheduler"}
    page = second.content.decode()
    assert "Older</a>" not in page
    assert link(page, "Newest") == "/audit/?actor=scheduler&action=token.retrieved"

    back = alice_client.get(link(page, "Newer"))
    assert [event.details["n"] for event in back.context["page_obj"]] == list(range(59, 9, -1))
    assert "Newer</a>" not in back.content.decode()


def test_events_at_the_same_moment_are_neither_skipped_nor_repeated(
    alice_client: Client, register: Any, create_authentication: Any
) -> None:
    """GIVEN 120 events recorded in the same microsecond WHEN one reads every older page
    THEN each event is shown exactly once, newest (highest number) first."""
    acme = create_authentication(register("p256"))
    AuditEvent.objects.all().delete()
    for n in range(120):
        record("token.retrieved", "scheduler", acme, T0, n=n)
    seen: list[int] = []
    path: str | None = "/audit/"
    while path:
        response = alice_client.get(path)
        seen += [event.details["n"] for event in response.context["page_obj"]]
        page = response.content.decode()
        path = link(page, "Older") if "Older</a>" in page else None
    assert seen == list(range(119, -1, -1))


@pytest.mark.parametrize("cursor", ["older=abc", "older=-1", "newer=" + "9" * 30, "older=", "older=999999"])
def test_a_page_link_that_names_no_event_shows_the_first_page_or_none(
    alice_client: Client, trail: dict[str, Any], cursor: str
) -> None:
    response = alice_client.get(f"/audit/?{cursor}")
    assert response.status_code == 200
    # A number that names no event has nothing past it; anything else is the first page.
    assert len(shown(response)) == (0 if cursor == "older=999999" else 6)


@pytest.fixture
def many(alice_client: Client) -> None:
    """GIVEN 150 authentications (more than a list offers) and 1,200 events, some about
    deleted authentications and by 150 actors."""
    scale_seed.authentications(0, 150)
    scale_seed.audit_events(1200)


def test_past_a_hundred_authentications_the_filters_are_search_boxes_with_suggestions(
    alice_client: Client, many: None
) -> None:
    page = alice_client.get("/audit/").content.decode()
    assert '<select name="authentication"' not in page and '<select name="actor"' not in page
    for name, label in (("authentication", "Authentication"), ("actor", "Actor")):
        assert re.search(rf'<label\s+for="id_{name}" class="form-label">\s*{label}\s*</label>', page)
        assert re.search(rf'<input type="search" name="{name}"[^>]* list="id_{name}_suggestions"', page)
    # Suggested: the latest events' values, a hundred at most.
    suggestions = re.findall(r'<datalist id="id_authentication_suggestions">(.*?)</datalist>', page)[0]
    assert '<option value="Deleted 000 (deleted)"></option>' in suggestions
    assert suggestions.count("<option") == 100
    assert '<option value="scheduler"></option>' in page


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Authentication 00042", "Authentication 00042"),
        ("authentication-00042", "Authentication 00042"),  # the identifier, in any case
        ("00042", "Authentication 00042"),  # the only one containing it
        ("Deleted 007", "Deleted 007"),
        ("Deleted 007 (deleted)", "Deleted 007"),  # as suggested
    ],
)
def test_the_authentication_search_finds_one_by_name_identifier_or_part(
    alice_client: Client, many: None, typed: str, expected: str
) -> None:
    response = alice_client.get("/audit/", {"authentication": typed})
    events = list(response.context["page_obj"])
    assert events and {event.authentication_name for event in events} == {expected}
    # The box then holds the name, as a link by number shows it too.
    shown_name = expected if expected.startswith("Authentication") else f"{expected} (deleted)"
    assert f'name="authentication" value="{shown_name}"' in response.content.decode()


def test_a_link_by_number_shows_the_name_in_the_search_box(alice_client: Client, many: None) -> None:
    pk = HttpAuthentication.objects.get(name="Authentication 00042").pk
    page = alice_client.get(f"/audit/?authentication={pk}").content.decode()
    assert 'name="authentication" value="Authentication 00042"' in page


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("0004", "Several authentications match “0004”: Authentication 00004, Authentication 00040,"),
        ("Globex", "No authentication, present or deleted, is called “Globex”."),
        ("99999", "No authentication, present or deleted, is called “99999”."),
    ],
)
def test_a_search_that_names_no_single_authentication_says_why_and_shows_no_events(
    alice_client: Client, many: None, typed: str, error: str
) -> None:
    response = alice_client.get("/audit/", {"authentication": typed})
    assert shown(response) == []
    assert error in response.content.decode()


def test_the_actor_search_takes_any_actor(alice_client: Client, many: None) -> None:
    response = alice_client.get("/audit/?actor=user149")
    assert shown(response) and {event.actor_label for event in response.context["page_obj"]} == {"user149"}


def test_details_are_readable_and_escaped(
    alice_client: Client, register: Any, create_authentication: Any
) -> None:
    acme = create_authentication(register("p256"))
    record(
        "token.failed",
        "scheduler",
        acme,
        T0,
        message="<script>alert(1)</script>",
        retries_stopped=True,
        scopes=["restlets", "rest_webservices"],
        next_attempt_at=None,
    )
    page = alice_client.get("/audit/?action=token.failed").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<span class="text-body-secondary">retries stopped:</span> yes' in page
    assert '<span class="text-body-secondary">scopes:</span> restlets, rest_webservices' in page


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/audit/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/audit/"


def test_the_navbar_links_to_the_audit_trail(alice_client: Client) -> None:
    assert '<a class="nav-link" href="/audit/">Audit trail</a>' in alice_client.get("/").content.decode()


def test_a_detail_page_shows_its_own_events_and_links_to_its_trail(
    alice_client: Client, register: Any, create_authentication: Any
) -> None:
    acme = create_authentication(register("p256"))
    globex = create_authentication(register("p256"), name="Globex CRM")
    record("alert.sent", "scheduler", globex, T0)
    page = alice_client.get("/authentications/acme-erp/").content.decode()
    assert "Created" in page
    assert "Alert sent" not in page
    assert f'href="/audit/?authentication={acme.pk}"' in page


# --- Nobody edits or deletes audit rows ---------------------------------------------------------


@pytest.fixture
def root_client(django_user_model: Any) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "x"))
    return client


def stored(event: AuditEvent) -> dict[str, Any]:
    return dict(AuditEvent.objects.filter(pk=event.pk).values().get())


@pytest.fixture
def event(register: Any, create_authentication: Any) -> AuditEvent:
    create_authentication(register("p256"))
    return AuditEvent.objects.get()


def test_the_admin_refuses_to_change_an_event(root_client: Client, event: AuditEvent) -> None:
    before = stored(event)
    url = f"/admin/authentications/auditevent/{event.pk}/change/"
    assert root_client.get(url).status_code == 200  # it may be read
    response = root_client.post(
        url, {"actor_label": "mallory", "action": "alert.sent", "authentication_name": "x", "details": "{}"}
    )
    assert response.status_code == 403
    assert stored(event) == before


def test_the_admin_refuses_to_delete_an_event(root_client: Client, event: AuditEvent) -> None:
    before = stored(event)
    response = root_client.post(f"/admin/authentications/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    # Nor through the list's bulk action, which is not offered.
    root_client.post(
        "/admin/authentications/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert stored(event) == before


def test_the_admin_refuses_to_add_an_event(root_client: Client, event: AuditEvent) -> None:
    response = root_client.post("/admin/authentications/auditevent/add/", {"actor_label": "mallory"})
    assert response.status_code == 403
    assert AuditEvent.objects.count() == 1


def test_the_audit_page_only_reads(alice_client: Client, event: AuditEvent) -> None:
    before = stored(event)
    for method in ("post", "put", "patch", "delete"):
        assert getattr(alice_client, method)("/audit/").status_code == 405
    assert stored(event) == before


# --- Deleting an authentication keeps its trail ------------------------------------------------


def test_deleting_an_authentication_keeps_its_audit_trail(
    alice_client: Client,
    sam_client: Client,
    register: Any,
    create_authentication: Any,
    fake_netsuite: FakeNetSuite,
) -> None:
    """GIVEN Acme ERP, created and with a token retrieved
    WHEN sam, a key administrator, deletes it
    THEN its three events stay, named but unlinked, and /audit/ shows them as deleted."""
    acme = create_authentication(register("p256"))
    alice_client.post("/authentications/acme-erp/retrieve-token/")
    assert sam_client.post("/authentications/acme-erp/delete/").status_code == 302
    assert not HttpAuthentication.objects.filter(pk=acme.pk).exists()

    events = AuditEvent.objects.order_by("pk")
    assert [event.action for event in events] == [
        "authentication.create",
        "token.retrieved",
        "authentication.delete",
    ]
    assert {(event.authentication_id, event.authentication_name) for event in events} == {(None, "Acme ERP")}

    response = alice_client.get("/audit/?authentication=deleted:Acme ERP")
    assert len(shown(response)) == 3
    assert response.content.decode().count('Acme ERP <span class="text-body-secondary">(deleted)</span>') == 3
