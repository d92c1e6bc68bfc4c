"""The detail page's title says the authentication's states in words, and its buttons' answers
bring those words up to date."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def badges(page: str, *, oob: bool) -> list[str]:
    """The words of the state badges in the box by the title (or sent out of band)."""
    attribute = ' hx-swap-oob="true"' if oob else ""
    found = re.findall(rf'<div id="state-badges" class="[^"]*"{attribute}>(.*?)</div>', page, re.DOTALL)
    assert len(found) == 1, page
    return [
        re.sub(r"<[^>]+>", "", badge)
        for badge in re.findall(r'<span class="badge state [^"]*">(.*?)</span>', found[0])
    ]


def test_the_title_shows_the_states(alice_client: Any, authentication_in_state: Any) -> None:
    authentication = authentication_in_state("Acme ERP", token_seconds=3600)
    page = alice_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert badges(page, oob=False) == ["Enabled", "Healthy"]
    assert page.index("<h1") < page.index('id="state-badges"') < page.index("Identifier")


def test_a_retrieved_token_makes_the_title_say_healthy(
    alice_client: Any, authentication_in_state: Any, fake_netsuite: Any
) -> None:
    authentication = authentication_in_state("Acme ERP")
    page = alice_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert badges(page, oob=False) == ["Enabled", "No token yet"]

    answer = alice_client.post(
        f"/authentications/{authentication.identifier}/retrieve-token/", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert badges(answer, oob=True) == ["Enabled", "Healthy"]


def test_a_refused_token_makes_the_title_say_failing(
    alice_client: Any, authentication_in_state: Any, fake_netsuite: Any
) -> None:
    authentication = authentication_in_state("Acme ERP", token_seconds=3600)
    fake_netsuite.fail_next("invalid_client")

    answer = alice_client.post(
        f"/authentications/{authentication.identifier}/retrieve-token/", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert badges(answer, oob=True) == ["Enabled", "Failing", "Retries stopped"]


def test_a_test_request_sends_the_states_too(
    alice_client: Any, authentication_in_state: Any, fake_netsuite: Any
) -> None:
    authentication = authentication_in_state("Acme ERP")
    answer = alice_client.post(
        f"/authentications/{authentication.identifier}/test-request/", {"path": ""}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert badges(answer, oob=True) == ["Enabled", "Healthy"]


def test_the_identifier_has_a_copy_button(alice_client: Any, authentication_in_state: Any) -> None:
    authentication = authentication_in_state("Acme ERP")
    page = alice_client.get(f"/authentications/{authentication.identifier}/").content.decode()
    assert '<code id="identifier">acme-erp</code>' in page
    assert 'data-copy-from="identifier">Copy<span class="visually-hidden"> identifier</span></button>' in page
    assert "js/copy-button.js" in page
