"""Wipe the private keys retired longer than the retention, as the daily task does."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from authentications.services import retired_keys


class Command(BaseCommand):
    help = (
        "Empty the private key of every signing key retired more than "
        "NSCONNECT_RETIRED_KEY_RETENTION_DAYS ago; the key's record stays for the history. "
        "Safe to run at any time, and twice."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        wiped = retired_keys.keys_wipe_retired(actor="command line")
        days = settings.NSCONNECT_RETIRED_KEY_RETENTION_DAYS
        self.stdout.write(
            f"Wiped {len(wiped)} retired private key{'' if len(wiped) == 1 else 's'} (retention {days} days)."
        )
