"""`python manage.py retrieve_token <identifier>`: the button, from the shell."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from authentications.models import AccessToken, AuditEvent

pytestmark = pytest.mark.django_db


def test_it_prints_the_expiry_but_not_the_token(register, create_authentication, fake_netsuite, capsys):
    authentication = create_authentication(register("p256"))
    call_command("retrieve_token", authentication.identifier)
    out = capsys.readouterr().out
    token = AccessToken.objects.get()
    assert f"valid until {token.expires_at.isoformat()}" in out
    assert token.value not in out
    assert AuditEvent.objects.filter(action="token.retrieved").get().actor_label == "command line"


def test_it_prints_the_token_when_asked(register, create_authentication, fake_netsuite, capsys):
    authentication = create_authentication(register("p256"))
    call_command("retrieve_token", authentication.identifier, "--print-token")
    assert AccessToken.objects.get().value in capsys.readouterr().out


def test_it_fails_with_the_explanation(register, create_authentication, fake_netsuite):
    authentication = create_authentication(register("p256"))
    fake_netsuite.fail_next("invalid_scope")
    with pytest.raises(CommandError, match="invalid_scope") as failure:
        call_command("retrieve_token", authentication.identifier)
    assert failure.value.returncode == 1
    assert AccessToken.objects.count() == 0


def test_it_names_an_unknown_identifier():
    with pytest.raises(CommandError, match="No HTTP authentication has the identifier 'nope'"):
        call_command("retrieve_token", "nope")
