"""System checks that stop the app from starting with unsafe configuration, and the
start-up checks (web, worker and manage.py) that the token URL allowlist is readable and
that the encryption keys read what is stored."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from authentications.netsuite.token_urls import ProtocolValueError, parse_url


@register(Tags.security, deploy=False)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    if not settings.DEBUG and not getattr(settings, "SECRET_KEY_FROM_ENV", True):
        errors.append(
            Error(
                "SECRET_KEY is not set while DEBUG is off.",
                hint="Set SECRET_KEY in the environment to a long random value "
                "(python -c 'import secrets; print(secrets.token_urlsafe(50))').",
                id="nsconnect.E001",
            )
        )
    keys = settings.NSCONNECT_ENCRYPTION_KEYS
    if not keys:
        errors.append(
            Error(
                "NSCONNECT_ENCRYPTION_KEYS is empty: private keys and tokens cannot be encrypted.",
                hint="Set it to one or more Fernet keys, comma separated "
                "(python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())').",
                id="nsconnect.E002",
            )
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"NSCONNECT_ENCRYPTION_KEYS entry {position} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes).",
                    id="nsconnect.E003",
                )
            )
    return errors


def allowlist_problems() -> list[str]:
    """What is wrong with each NSCONNECT_TOKEN_URL_ALLOWLIST entry, read by the parser the
    allowlist itself uses (token_urls.parse_url): an entry it cannot read admits nothing,
    so it is named rather than silently ignored."""
    # The entry itself is not quoted: one with user info may hold a password.
    problems = []
    for position, entry in enumerate(settings.NSCONNECT_TOKEN_URL_ALLOWLIST, start=1):
        try:
            endpoint = parse_url(entry, what="The entry")
        except ProtocolValueError as error:
            reason = str(error)
        else:
            if endpoint.path == "/":
                continue
            reason = "The entry has a path; give the origin only."
        problems.append(
            f"NSCONNECT_TOKEN_URL_ALLOWLIST entry {position} is not an origin like "
            f"https://host:port, so it admits nothing. {reason}"
        )
    return problems


@register()
def check_allowlist(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [Error(problem, id="nsconnect.E004") for problem in allowlist_problems()]


def refuse_malformed_allowlist() -> None:
    """Stop a starting web or worker process whose allowlist has an entry that admits nothing."""
    problems = allowlist_problems()
    if problems:
        raise ImproperlyConfigured(" ".join(problems))


def stored_secrets_problem() -> str | None:
    """Decrypt the newest stored value of every encrypted field (private key, access token, ...);
    a message naming NSCONNECT_ENCRYPTION_KEYS if one fails, so a wrong key is named at start, not
    discovered as failures later. Nothing stored yet, or no tables yet, is no problem."""
    from authentications import fields
    from authentications.services.encryption_rotation import encrypted_columns, stored

    for column in encrypted_columns():
        model, field, what = column.model, column.field.name, column.model._meta.verbose_name
        try:
            # The column as stored (not decrypted by the field), so a failure is ours to word.
            row = (
                model._default_manager.exclude(**{field: ""})
                .annotate(ciphertext=stored(field))
                .order_by("-pk")
                .values_list("pk", "ciphertext")
                .first()
            )
        except DatabaseError:
            return None  # not migrated yet, or no database to read: nothing to check
        if row is None:
            continue
        pk, ciphertext = row
        try:
            fields.decrypt(ciphertext)
        except Exception:  # noqa: BLE001  (whatever the decryption raises, the answer is the same)
            return (
                f"The stored {what} {pk} cannot be decrypted with NSCONNECT_ENCRYPTION_KEYS: the key "
                "that encrypted it is not among them. Put that key back in the list (the first key "
                "encrypts, every key decrypts)."
            )
    return None


def refuse_unreadable_secrets() -> None:
    """Stop a starting web or worker process whose encryption keys cannot read what is stored."""
    problem = stored_secrets_problem()
    if problem:
        raise ImproperlyConfigured(problem)


def refuse_unsafe_start() -> None:
    """What a starting web or worker process checks beyond the settings: an allowlist whose
    every entry admits something, and encryption keys that read what is stored."""
    refuse_malformed_allowlist()
    refuse_unreadable_secrets()


@register(Tags.database)
def check_stored_secrets(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Error]:
    # Tagged database: Django runs it where a database is named (migrate, check --database).
    if not databases:
        return []
    problem = stored_secrets_problem()
    return [Error(problem, id="nsconnect.E005")] if problem else []
