"""Re-encrypt every stored secret with the first of NSCONNECT_ENCRYPTION_KEYS, or check that
every stored secret decrypts with them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from authentications.services import encryption_rotation
from authentications.services.encryption_rotation import ColumnReport, Outcome


def records(count: int, what: str = "value") -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value (private keys, access tokens, ...) with the first key of "
        "NSCONNECT_ENCRYPTION_KEYS, in batches, each committed on its own: an interrupted run is "
        "finished by running it again. With --check, change nothing and name every record whose "
        "value no key in NSCONNECT_ENCRYPTION_KEYS decrypts (exit status 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Only check that every stored value decrypts with NSCONNECT_ENCRYPTION_KEYS.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=encryption_rotation.DEFAULT_BATCH_SIZE,
            help="Records re-encrypted per transaction (default %(default)s).",
        )

    def handle(self, *args: Any, check: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        if check:
            self.check_values(encryption_rotation.encrypted_values_check(batch_size=batch_size))
        else:
            self.rotate_values(encryption_rotation.encrypted_values_rotate(batch_size=batch_size))

    def rotate_values(self, reports: list[ColumnReport]) -> None:
        for report in reports:
            counts = report.counts
            line = (
                f"{report.column.label}: {counts[Outcome.REENCRYPTED]} re-encrypted, "
                f"{counts[Outcome.CURRENT]} already current, {counts[Outcome.EMPTY]} empty"
            )
            if report.unreadable:
                line += f", {len(report.unreadable)} that no key decrypts"
            if report.changing:
                line += f", {len(report.changing)} saved again on every try"
            self.stdout.write(line + ".")
        self.name_unreadable(reports)
        for report in reports:
            for pk in report.changing:
                self.stderr.write(
                    f"{report.column.model._meta.label} {pk}, field {report.column.field.name}: "
                    "it was saved again each time it was read; run the command again."
                )
        left = sum(len(report.unreadable) + len(report.changing) for report in reports)
        if left:
            raise CommandError(
                f"{records(left)} could not be re-encrypted (named above); every other value was. "
                "A value no key decrypts needs the key that encrypted it back in "
                "NSCONNECT_ENCRYPTION_KEYS (after the first), then a new run."
            )
        self.stdout.write(
            "Every stored value is now encrypted with the first key of NSCONNECT_ENCRYPTION_KEYS. "
            "Check with that key alone (rotate_encryption_keys --check) before removing the others."
        )

    def check_values(self, reports: list[ColumnReport]) -> None:
        for report in reports:
            counts = report.counts
            line = (
                f"{report.column.label}: {counts[Outcome.CURRENT]} with the first key, "
                f"{counts[Outcome.OLDER]} only with a later key, {counts[Outcome.EMPTY]} empty"
            )
            if report.unreadable:
                line += f", {len(report.unreadable)} that no key decrypts"
            self.stdout.write(line + ".")
        self.name_unreadable(reports)
        unreadable = sum(len(report.unreadable) for report in reports)
        if unreadable:
            raise CommandError(
                f"{records(unreadable)} cannot be decrypted with NSCONNECT_ENCRYPTION_KEYS (named "
                "above); nothing was changed. Put the key that encrypted them back in the list."
            )
        decrypted = sum(report.counts[Outcome.CURRENT] + report.counts[Outcome.OLDER] for report in reports)
        older = sum(report.counts[Outcome.OLDER] for report in reports)
        summary = f"All {records(decrypted, 'stored value')} decrypt with NSCONNECT_ENCRYPTION_KEYS."
        if older:
            summary += (
                f" {records(older)} still need a key after the first: run rotate_encryption_keys "
                "before removing it."
            )
        self.stdout.write(summary)

    def name_unreadable(self, reports: list[ColumnReport]) -> None:
        # The record and field only: never the value, which is as secret as what it encrypts.
        for report in reports:
            for pk in report.unreadable:
                self.stderr.write(
                    f"{report.column.model._meta.label} {pk}, field {report.column.field.name}: "
                    "no key in NSCONNECT_ENCRYPTION_KEYS decrypts it."
                )
