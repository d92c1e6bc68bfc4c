"""One attempt at a token: the credentials it signs with, the request, and the token stored
(with the recovery alert) when it succeeds.

Who may attempt (single flight) is token_single_flight; this module is what an attempt
does. Every way an attempt can fail ends as a TokenRequestError with a message a person
can act on (failure_for), recorded on the authentication with its back-off and alert by
token_failures; alert mail leaves through refresh_alerts.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from cryptography.exceptions import UnsupportedAlgorithm
from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, ExpressionWrapper, F, TextField
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authentications.fields import DecryptionError
from authentications.keys.loaded_keys import load_stored_ciphertext, load_stored_private_key
from authentications.keys.private_keys import KeyMaterialError
from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from authentications.netsuite import assertion, http_exchange, token_request
from authentications.services import refresh_alerts, token_failures
from authentications.services.audit_trail import Actor, audit
from authentications.statements import (
    index_condition_literal,
    insert_row,
    instance_from_row,
    prepared_cursor,
    update_row,
)

logger = logging.getLogger(__name__)

_NEW_KEY = "Generate or upload a new key pair and rotate to it."
PRIVATE_KEY_UNDECRYPTABLE = (
    "The stored private key cannot be decrypted with NSCONNECT_ENCRYPTION_KEYS: the key that "
    "encrypted it is no longer in that setting. Put it back (after the current key), or "
    "generate or upload a new key pair and rotate to it."
)
STORED_VALUE_UNDECRYPTABLE = (
    "A stored secret (private key or token) cannot be decrypted with NSCONNECT_ENCRYPTION_KEYS: "
    "the key that encrypted it is no longer in that setting. Put it back (after the current key)."
)
# The kind of failure a database error becomes: the scheduler tries such a refresh again soon.
DATABASE_FAILURE = "database"
DATABASE_BUSY = (
    "The database did not answer in time (it may be locked by another process), so no token was "
    "retrieved or stored. Try again in a minute; if it persists, check the database server."
)


def log_unexpected(what: str, error: BaseException) -> None:
    """Log an unexpected error with its traceback but without its message, which could quote a
    value (a token, an assertion) that must never reach a log."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    logger.error("unexpected %s %s\n%s", type(error).__name__, what, frames)


def failure_for(
    error: Exception, *, what: str = "while retrieving a token"
) -> http_exchange.TokenRequestError:
    """Any error met on the way to a token, as a TokenRequestError a person can act on."""
    if isinstance(error, http_exchange.TokenRequestError):
        return error
    if isinstance(error, DecryptionError):
        return http_exchange.TokenRequestError("undecryptable", STORED_VALUE_UNDECRYPTABLE)
    if isinstance(error, DatabaseError):
        logger.warning("database error %s: %s", what, type(error).__name__)
        return http_exchange.TokenRequestError(DATABASE_FAILURE, DATABASE_BUSY)
    log_unexpected(what, error)
    return http_exchange.TokenRequestError(
        "internal",
        f"nsconnect met an unexpected error ({type(error).__name__}) {what}; the server log has the details.",
    )


def active_key_to_sign_with(authentication: HttpAuthentication) -> SigningKey | None:
    """The active key, its private key left unread but for its ciphertext as stored
    (private_key_ciphertext), in one statement: signing decrypts it only if this process has
    not loaded it yet, and a key that no longer decrypts fails as the attempt's own failure,
    with its Certificate ID known."""
    return (
        authentication.signing_keys.filter(state=SigningKey.State.ACTIVE)
        .defer("private_key")
        # The column as stored: read as plain text, the field does not decrypt it.
        .annotate(private_key_ciphertext=ExpressionWrapper(F("private_key"), output_field=TextField()))  # type: ignore[no-redef]
        .first()
    )


@sensitive_variables()
def credentials_for(authentication: HttpAuthentication, signing_key: SigningKey) -> assertion.Credentials:
    """The credentials to sign with; a stored key that cannot be used is a TokenRequestError.

    The key is read from its ciphertext when the signing key was read so (the refresh), else
    from its private key (decrypted by its field)."""
    cache_key = (signing_key.pk, signing_key.fingerprint_sha256)
    ciphertext = signing_key.private_key_ciphertext
    try:
        if ciphertext is not None:
            private_key = load_stored_ciphertext(cache_key, ciphertext)
        else:
            pem = signing_key.private_key
            private_key = load_stored_private_key(cache_key, pem) if pem.strip() else None
    except DecryptionError:
        raise http_exchange.TokenRequestError("undecryptable", PRIVATE_KEY_UNDECRYPTABLE) from None
    except KeyMaterialError as error:
        raise http_exchange.TokenRequestError("unusable_key", f"{error} {_NEW_KEY}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise http_exchange.TokenRequestError(
            "unusable_key", f"The stored private key is damaged and cannot be loaded. {_NEW_KEY}"
        ) from None
    if private_key is None:
        raise http_exchange.TokenRequestError(
            "no_private_key",
            f"The signing key {signing_key.certificate_id} has no private key (it was wiped or never "
            f"stored), so no assertion can be signed. {_NEW_KEY}",
        )
    return assertion.Credentials(
        consumer_key=authentication.consumer_key,
        certificate_id=signing_key.certificate_id,
        algorithm=authentication.jwt_algorithm,
        scopes=authentication.scope_list,
        token_url=authentication.token_url,
        private_key=private_key,
    )


@sensitive_variables()
def token_probe(*, credentials: assertion.Credentials) -> token_request.TokenResponse:
    """Retrieve a token with values that are not saved (the form's Retrieve button); store nothing."""
    return token_request.request_token(credentials, timezone.now())


@dataclass(frozen=True)
class _Signer:
    """What a token is minted for: it may be stored only if the record still says the same."""

    token_url: str
    consumer_key: str
    scopes: str
    signing_key_id: int | None

    # The authentication's fields a signer is made of.
    FIELDS: ClassVar[tuple[str, ...]] = ("token_url", "consumer_key", "scopes")

    @classmethod
    def of(cls, authentication: HttpAuthentication, signing_key_id: int | None) -> _Signer:
        return cls(
            authentication.token_url, authentication.consumer_key, authentication.scopes, signing_key_id
        )


# What "not read yet" looks like for token_retrieve's signing_key: None means "there is none".
_UNREAD: Any = object()


@sensitive_variables()
def token_retrieve(
    *,
    authentication: HttpAuthentication,
    actor: Actor,
    ip_address: str | None = None,
    signing_key: SigningKey | None = _UNREAD,
    lease_owner: str = "",
) -> AccessToken:
    """Ask NetSuite for a token with the active key and make it the current one.

    Callers that may run concurrently go through token_single_flight.token_get, or claim the
    lease themselves (the sweep) and pass its lease_owner, released with the stored token.
    A caller that has just read the active key passes it as signing_key (its private key
    deferred or not). On failure (of any kind) the previous token and key stay as they were;
    the status, back-off and audit trail record it, and a TokenRequestError is raised.
    """
    now = timezone.now()
    try:
        if signing_key is _UNREAD:
            signing_key = active_key_to_sign_with(authentication)
        signer = _Signer.of(authentication, signing_key.pk if signing_key else None)
        if signing_key is None:
            raise http_exchange.TokenRequestError("no_key", "This authentication has no active signing key.")
        response = token_request.request_token(credentials_for(authentication, signing_key), now)
        token = _store(authentication, signer, signing_key, response, actor, ip_address, now, lease_owner)
    except Exception as error:
        failure = failure_for(error)
        token_failures.record_failure(authentication, signing_key, failure, actor, ip_address, now)
        raise failure from None
    if token is None:
        changed = http_exchange.TokenRequestError(
            "credentials_changed",
            "The credentials changed while the token was being retrieved, so the token NetSuite "
            "issued for the old ones was discarded. Retrieve again to get one for the new ones.",
        )
        token_failures.audit_discarded(authentication, signing_key, changed, actor, ip_address)
        raise changed
    logger.info("token retrieved for %s, valid until %s", authentication.identifier, token.expires_at)
    return token


# What _store reads of the locked row: what the checks and the audit event read (the status
# fields are all written, never read).
_LOCKED_READ = [
    field
    for field in HttpAuthentication._meta.concrete_fields
    if field.name in {"id", *_Signer.FIELDS, "name", "failure_alert_sent", "lease_owner"}
]
_LOCKED_NAMES = [field.attname for field in _LOCKED_READ]
_LOCKED_STATEMENTS: dict[tuple[str, bool], str] = {}
# A stored token is written whole.
_TOKEN_FIELDS = [field.name for field in AccessToken._meta.concrete_fields if not field.primary_key]


def _locked_statement(connection: BaseDatabaseWrapper) -> str:
    """The statement _locked_row runs, written once per kind of database: the ORM composed
    this one (a partial row, two subqueries, the lock) anew for every token stored, at
    about 1 ms of CPU, several times the statement itself."""
    lock = connection.features.has_select_for_update
    statement = _LOCKED_STATEMENTS.get((connection.vendor, lock))
    if statement is None:
        quote = connection.ops.quote_name
        authentication, key, token = HttpAuthentication._meta, SigningKey._meta, AccessToken._meta
        pk = f"a.{quote(authentication.pk.column)}"
        columns = ", ".join(f"a.{quote(field.column)}" for field in _LOCKED_READ)
        active = index_condition_literal(SigningKey.State.ACTIVE.value)
        # Names from the models' own metadata, quoted; the id goes as a parameter.
        statement = (
            f"SELECT {columns}, "  # noqa: S608
            f"(SELECT k.{quote(key.pk.column)} FROM {quote(key.db_table)} k "
            f"WHERE k.{quote(key.get_field('authentication').column)} = {pk} "
            f"AND k.{quote(key.get_field('state').column)} = {active} LIMIT 1), "
            f"(SELECT t.{quote(token.pk.column)} FROM {quote(token.db_table)} t "
            f"WHERE t.{quote(token.get_field('authentication').column)} = {pk} LIMIT 1) "
            f"FROM {quote(authentication.db_table)} a WHERE {pk} = %s"
        )
        if lock:
            statement += " FOR UPDATE"
        _LOCKED_STATEMENTS[(connection.vendor, lock)] = statement
    return statement


def _locked_row(authentication_id: int) -> tuple[HttpAuthentication, int | None, int | None]:
    """The authentication's row, locked until the transaction ends (where the database locks
    rows), with the ids of its active key and of its token (None where there is none)."""
    alias = router.db_for_write(HttpAuthentication)
    connection = connections[alias]
    with prepared_cursor(connection) as cursor:
        cursor.execute(_locked_statement(connection), [authentication_id])
        found = cursor.fetchone()
    if found is None:
        raise HttpAuthentication.DoesNotExist("The authentication was deleted.")
    # Text, integers and a boolean: only SQLite's boolean (an integer) needs converting.
    values = [
        bool(value) if isinstance(field, BooleanField) else value
        for field, value in zip(_LOCKED_READ, found, strict=False)
    ]
    row = instance_from_row(HttpAuthentication, alias, _LOCKED_NAMES, values)
    return row, found[-2], found[-1]


@sensitive_variables()
def _store(
    authentication: HttpAuthentication,
    signer: _Signer,
    signing_key: SigningKey,
    response: token_request.TokenResponse,
    actor: Actor,
    ip_address: str | None,
    now: datetime,
    lease_owner: str,
) -> AccessToken | None:
    """Make the token current, unless the record was edited meanwhile (then None).

    Four statements in one transaction: the locked row (with its active key and token ids),
    the token, the status (releasing lease_owner's lease), the audit event."""
    expires_at = response.expires_at(now)
    with transaction.atomic():
        row, active_key_id, current_token_id = _locked_row(authentication.pk)
        if _Signer.of(row, active_key_id) != signer:
            return None
        recovered = row.failure_alert_sent
        # Saved by primary key, not update_or_create: the old value is never read, so a
        # token encrypted with a key since removed is simply replaced.
        token = AccessToken(
            pk=current_token_id,
            authentication=row,
            value=response.access_token,
            token_type=response.token_type,
            obtained_at=now,
            expires_at=expires_at,
            signing_key=signing_key,
        )
        if current_token_id is None or not update_row(token, _TOKEN_FIELDS):
            insert_row(token)
        row.last_success_at = now
        row.last_error = row.last_error_kind = ""
        row.failing_since = row.next_attempt_at = None
        row.consecutive_failures = 0
        row.retries_stopped = row.failure_alert_sent = False
        fields = list(token_failures.STATUS_FIELDS)
        if lease_owner and row.lease_owner == lease_owner:  # the row is locked: still ours
            row.lease_owner, row.lease_expires_at = "", None
            fields += ["lease_owner", "lease_expires_at"]
        if not update_row(row, fields):  # locked above: gone only if the lock failed
            raise DatabaseError("The authentication's row was not there to store its status.")
        audit(
            action=AuditEvent.Action.TOKEN_RETRIEVED,
            authentication=row,
            actor=actor,
            ip_address=ip_address,
            details={"certificate_id": signing_key.certificate_id, "expires_at": expires_at.isoformat()},
        )
        # Only when a failure alert went out (or is going out): recovery is news only then.
        if recovered:
            transaction.on_commit(lambda: refresh_alerts.enqueue_refresh_alert(row.pk, recovered=True))
    # What the row now says, without reading it again: the caller's copy shows the success.
    for field in fields:
        setattr(authentication, field, getattr(row, field))
    return token
