"""Retrieve an access token for one authentication from the shell, like the button does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from authentications.models import HttpAuthentication
from authentications.services import token_single_flight


class Command(BaseCommand):
    help = "Retrieve an access token from NetSuite for the authentication with this identifier."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("identifier")
        parser.add_argument(
            "--print-token",
            action="store_true",
            help="Also print the access token itself (it is a secret: mind your terminal history).",
        )

    def handle(self, *args: Any, identifier: str, print_token: bool, **options: Any) -> None:
        try:
            authentication = HttpAuthentication.objects.get(identifier=identifier)
        except HttpAuthentication.DoesNotExist:
            raise CommandError(f"No HTTP authentication has the identifier {identifier!r}.") from None
        try:
            token = token_single_flight.token_get(
                authentication=authentication, actor="command line", fresh=True
            )
        except token_single_flight.TokenRequestError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Access token retrieved, valid until {token.expires_at.isoformat()}.")
        if print_token:
            self.stdout.write(token.value)
