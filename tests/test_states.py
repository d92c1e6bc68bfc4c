"""The states of an authentication (selectors.State): decided once, said the same by the badges,
the list's filter and the dashboard's counts. Healthy means a token valid now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from authentications import selectors
from authentications.models import HttpAuthentication, SigningKey
from authentications.selectors import State
from authentications.templatetags.authentications_tags import state_badges_of

pytestmark = pytest.mark.django_db

HOUR = 3600


def expire_in(authentication: HttpAuthentication, days: float) -> None:
    """Moves the active certificate's effective expiry to `days` from now."""
    SigningKey.objects.filter(authentication=authentication, state=SigningKey.State.ACTIVE).update(
        effective_expires_at=timezone.now() + dt.timedelta(days=days)
    )


def failing(**fields: Any) -> dict[str, Any]:
    return {"failing_since": timezone.now(), "consecutive_failures": 2, "last_error": "refused", **fields}


def minutes(n: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=n)


def later(**fields: Any) -> Callable[[], dict[str, Any]]:
    """Fields made when the test runs, not when the module is collected: a suite runs long
    enough that a back-off "10 minutes from now" at collection is over by then."""
    return lambda: failing(**{name: minutes(offset) for name, offset in fields.items()})


def plain(**fields: Any) -> Callable[[], dict[str, Any]]:
    """Fields that do not depend on the time."""
    return lambda: dict(fields)


# name: (token seconds or None for no token, fields, certificate days left or None, states)
CASES: dict[str, tuple[int | None, Callable[[], dict[str, Any]], float | None, set[State]]] = {
    "a valid token": (HOUR, plain(), None, {State.HEALTHY}),
    "no token yet": (None, plain(), None, {State.NO_TOKEN}),
    "a token that expired": (-60, plain(), None, {State.TOKEN_EXPIRED}),
    "failing, backing off": (
        None,
        later(next_attempt_at=10),
        None,
        {State.FAILING, State.BACKING_OFF},
    ),
    "failing, back-off over": (None, later(next_attempt_at=-1), None, {State.FAILING}),
    "failing, retries stopped": (
        None,
        lambda: failing(retries_stopped=True),
        None,
        {State.FAILING, State.RETRIES_STOPPED},
    ),
    "failing with a token still valid": (
        HOUR,
        later(next_attempt_at=5),
        None,
        {State.FAILING, State.BACKING_OFF},
    ),
    "disabled with a valid token": (HOUR, plain(enabled=False), None, set()),
    "a certificate expiring in 5 days": (HOUR, plain(), 5, {State.HEALTHY, State.CERTIFICATE_EXPIRING}),
    "a certificate expiring in 31 days": (HOUR, plain(), 31, {State.HEALTHY}),
    "a certificate expired": (HOUR, plain(), -2, {State.CERTIFICATE_EXPIRED}),
}


@pytest.mark.parametrize("case", CASES)
def test_each_state_is_decided_once_for_badges_filters_and_counts(
    authentication_in_state: Any, case: str
) -> None:
    """GIVEN an authentication in a state WHEN its states are read THEN they are exactly the
    expected ones, and the list's filter for each state and the dashboard's count agree."""
    token_seconds, fields, certificate_days, expected = CASES[case]
    authentication = authentication_in_state("Acme ERP", token_seconds=token_seconds, **fields())
    if certificate_days is not None:
        expire_in(authentication, certificate_days)

    row = selectors.authentication_reread(authentication)

    assert set(selectors.states_of(row)) == expected
    assert set(selectors.states_of(authentication)) == expected  # read without with_states
    counts = selectors.counts(timezone.now())
    for state in State:
        listed = list(selectors.authentications_listed(state=state))
        assert (listed == [authentication]) == (state in expected), state
        assert counts.states[state] == (1 if state in expected else 0), state


def test_no_token_yet_is_not_healthy(authentication_in_state: Any) -> None:
    authentication = authentication_in_state("Acme ERP")
    assert authentication.current_token() is None
    assert State.HEALTHY not in selectors.states_of(authentication)
    assert [badge.text for badge in state_badges_of(authentication)] == ["Enabled", "No token yet"]


def test_a_backed_off_record_says_until_when(authentication_in_state: Any) -> None:
    until = minutes(10)
    authentication = authentication_in_state("Acme ERP", **failing(next_attempt_at=until))

    badges = state_badges_of(selectors.authentication_reread(authentication))

    assert [badge.text for badge in badges] == ["Enabled", "Failing", "Backing off until"]
    assert badges[-1].until == until


def test_an_expiring_certificate_says_in_how_many_days(authentication_in_state: Any) -> None:
    authentication = authentication_in_state("Acme ERP", token_seconds=HOUR)
    expire_in(authentication, 5)

    badges = state_badges_of(selectors.authentication_reread(authentication))

    assert [badge.text for badge in badges] == ["Enabled", "Healthy", "Certificate expires in 5 days"]


def test_disabled_and_stopped_badges_have_words_and_colours(authentication_in_state: Any) -> None:
    authentication = authentication_in_state("Acme ERP", enabled=False, **failing(retries_stopped=True))

    badges = state_badges_of(selectors.authentication_reread(authentication))

    assert [(badge.text, badge.css) for badge in badges] == [
        ("Disabled", "text-bg-secondary"),
        ("Failing", "text-bg-danger"),
        ("Retries stopped", "text-bg-danger"),
    ]
