"""Encryption-key rotation: re-encrypt every stored EncryptedTextField value with the first of
NSCONNECT_ENCRYPTION_KEYS, and check that every stored value still decrypts.

Both read and write the column as stored (the ciphertext), never through the field, whose own
decryption and encryption would hide which key a value is under.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import partial
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import models, router, transaction
from django.db.models.functions import Cast

from authentications.fields import EncryptedTextField, get_fernet

DEFAULT_BATCH_SIZE = 500
# A value the web app saves again each time we read it is left to the next run after this many tries.
ATTEMPTS_PER_VALUE = 3


class Outcome(enum.Enum):
    EMPTY = "empty"
    CURRENT = "current"  # the first key alone opens it
    OLDER = "older"  # only a later key opens it: what a rotation re-encrypts
    REENCRYPTED = "re-encrypted"
    UNREADABLE = "unreadable"  # no key opens it
    CHANGING = "changing"  # saved again by someone else on every try
    GONE = "gone"  # deleted while we looked at it


@dataclass(frozen=True)
class EncryptedColumn:
    """One EncryptedTextField of one model."""

    model: type[models.Model]
    field: EncryptedTextField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    def records(self) -> models.QuerySet[Any]:
        """Every record, hidden by no custom manager, with its value as stored, read where it is
        written (not on a replica that may lag behind the writes)."""
        return self.model._base_manager.using(router.db_for_write(self.model)).annotate(
            ciphertext=stored(self.field.name)
        )


@dataclass
class ColumnReport:
    """What a rotation or a check found in one column: counts by outcome, and the primary
    keys of the records whose value no key opens (or that kept changing under a rotation)."""

    column: EncryptedColumn
    counts: Counter[Outcome] = dataclass_field(default_factory=Counter)
    unreadable: list[Any] = dataclass_field(default_factory=list)
    changing: list[Any] = dataclass_field(default_factory=list)

    def add(self, pk: Any, outcome: Outcome) -> None:
        self.counts[outcome] += 1
        if outcome is Outcome.UNREADABLE:
            self.unreadable.append(pk)
        elif outcome is Outcome.CHANGING:
            self.changing.append(pk)


def encrypted_columns() -> list[EncryptedColumn]:
    """Every EncryptedTextField of every installed model, found by walking the models so that
    a field added later is rotated and checked without an edit here."""
    return [
        EncryptedColumn(model, model_field)
        for model in apps.get_models()
        # Local fields only: a child model (multi-table inheritance) does not repeat its parent's.
        for model_field in model._meta.local_concrete_fields
        if isinstance(model_field, EncryptedTextField)
    ]


def stored(field_name: str) -> Cast:
    """The column as stored: the Cast keeps the field's own decryption out of the way."""
    return Cast(field_name, models.TextField())


def read_ciphertext(column: EncryptedColumn, pk: Any) -> tuple[bool, str | None]:
    """(whether the record still exists, its value as stored)."""
    rows = list(column.records().filter(pk=pk).values_list("ciphertext", flat=True))
    return (True, rows[0]) if rows else (False, None)


def write_ciphertext(column: EncryptedColumn, pk: Any, *, old: str, new: str) -> bool:
    """Store new in place of old, only if the record still holds old: a value saved since it
    was read (by the web app) is never overwritten with one made from an older value."""
    updated = (
        column.records()
        .filter(pk=pk, ciphertext=old)
        # A plain TextField value, so the field does not encrypt the ciphertext once more.
        .update(**{column.field.attname: models.Value(new, output_field=models.TextField())})
    )
    return updated == 1


def classify(ciphertext: str | None, first: Fernet, every: MultiFernet) -> Outcome:
    if not ciphertext:
        return Outcome.EMPTY
    try:
        first.decrypt(ciphertext)
        return Outcome.CURRENT
    except (InvalidToken, ValueError):  # ValueError: a non-ASCII value, which b64decode refuses
        pass
    try:
        every.decrypt(ciphertext)
        return Outcome.OLDER
    except (InvalidToken, ValueError):  # ValueError: a non-ASCII value, which b64decode refuses
        return Outcome.UNREADABLE


def reencrypt(
    column: EncryptedColumn, pk: Any, ciphertext: str | None, *, first: Fernet, every: MultiFernet
) -> Outcome:
    """Re-encrypt one value with the first key unless it already is (so a rerun after an
    interruption skips what the first run finished)."""
    for _attempt in range(ATTEMPTS_PER_VALUE):
        outcome = classify(ciphertext, first, every)
        if outcome is not Outcome.OLDER or not ciphertext:
            return outcome
        # rotate keeps the value's timestamp; it decrypts with any key and encrypts with the first.
        if write_ciphertext(column, pk, old=ciphertext, new=every.rotate(ciphertext).decode("ascii")):
            return Outcome.REENCRYPTED
        # Saved again since we read it: start over from what is stored now.
        exists, ciphertext = read_ciphertext(column, pk)
        if not exists:
            return Outcome.GONE
    return Outcome.CHANGING


def walk(
    column: EncryptedColumn,
    *,
    batch_size: int,
    visit: Callable[[Any, str | None], Outcome],
    in_transactions: bool,
) -> ColumnReport:
    """Visit every record's stored value in primary-key order, batch_size records at a time,
    each batch in its own transaction when in_transactions (so what a batch wrote is committed
    before the next starts, and an interrupted batch leaves nothing half-written)."""
    report = ColumnReport(column)
    database = router.db_for_write(column.model)
    records = column.records()
    last_pk: Any = None
    while True:
        # durable: a caller's transaction around this would make the whole run one transaction.
        with transaction.atomic(using=database, durable=True) if in_transactions else nullcontext():
            batch = records if last_pk is None else records.filter(pk__gt=last_pk)
            rows = list(batch.order_by("pk").values_list("pk", "ciphertext")[:batch_size])
            for pk, ciphertext in rows:
                report.add(pk, visit(pk, ciphertext))
        if len(rows) < batch_size:
            return report
        last_pk = rows[-1][0]


def current_keys() -> tuple[Fernet, MultiFernet]:
    """The first key of NSCONNECT_ENCRYPTION_KEYS alone, and all of them."""
    every = get_fernet()  # raises when the setting is empty
    return Fernet(settings.NSCONNECT_ENCRYPTION_KEYS[0]), every


def encrypted_values_rotate(*, batch_size: int = DEFAULT_BATCH_SIZE) -> list[ColumnReport]:
    """Re-encrypt every stored encrypted value with the first key. A value no key opens is
    reported, not fatal: the rest is rotated all the same."""
    first, every = current_keys()
    return [
        walk(
            column,
            batch_size=batch_size,
            visit=partial(reencrypt, column, first=first, every=every),
            in_transactions=True,
        )
        for column in encrypted_columns()
    ]


def encrypted_values_check(*, batch_size: int = DEFAULT_BATCH_SIZE) -> list[ColumnReport]:
    """Classify every stored encrypted value by the keys that open it; changes nothing."""
    first, every = current_keys()
    return [
        walk(
            column,
            batch_size=batch_size,
            visit=lambda pk, ciphertext: classify(ciphertext, first, every),
            in_transactions=False,
        )
        for column in encrypted_columns()
    ]
