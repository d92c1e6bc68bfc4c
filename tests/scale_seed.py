"""Many rows quickly, for the page query test and `make bench`: authentications with an active
key, a valid token and a few audit events each, and a long audit trail, all by bulk_create.

One key pair and certificate serve every row: the pages read keys, they never use them."""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
from tests import keyfactory

EVENTS_PER_AUTHENTICATION = 3
BATCH = 2000
# The audit trail's long tail: more actors and deleted authentications than a filter lists.
ACTORS = 150
DELETED_AUTHENTICATIONS = 150


def authentications(start: int, stop: int) -> None:
    """Authentications number start to stop - 1: every tenth failing, certificates expiring
    from today to 400 days out, each with an active key, a token and a few audit events."""
    key = keyfactory.private_key("p256")
    pem, certificate = keyfactory.private_pem(key), keyfactory.certificate_pem(key)
    der = x509.load_pem_x509_certificate(certificate.encode()).public_bytes(serialization.Encoding.DER)
    now = timezone.now()
    HttpAuthentication.objects.bulk_create(
        (
            HttpAuthentication(
                name=f"Authentication {n:05d}",
                identifier=f"authentication-{n:05d}",
                jwt_algorithm="ES256",
                consumer_key=f"{n:064d}",
                scopes="restlets",
                token_url=f"https://{n % 97}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
                failing_since=now if n % 10 == 0 else None,
            )
            for n in range(start, stop)
        ),
        batch_size=BATCH,
    )
    made = list(HttpAuthentication.objects.filter(signing_keys__isnull=True))
    keys = SigningKey.objects.bulk_create(
        (
            SigningKey(
                authentication=authentication,
                certificate_id=f"certificate-{authentication.pk}",
                private_key=pem,
                certificate_pem=certificate,
                key_type="EC",
                key_size=256,
                curve="P-256",
                fingerprint_sha256=hashlib.sha256(der).hexdigest(),
                not_before=now - dt.timedelta(days=1),
                not_after=now + dt.timedelta(days=authentication.pk % 400),
                effective_expires_at=now + dt.timedelta(days=authentication.pk % 400),
                state=SigningKey.State.ACTIVE,
            )
            for authentication in made
        ),
        batch_size=BATCH,
    )
    AccessToken.objects.bulk_create(
        (
            AccessToken(
                authentication=signing_key.authentication,
                value="not a real token",
                obtained_at=now,
                expires_at=now + dt.timedelta(hours=1),
                signing_key=signing_key,
            )
            for signing_key in keys
        ),
        batch_size=BATCH,
    )
    AuditEvent.objects.bulk_create(
        (
            AuditEvent(
                actor_label="scheduler",
                action=AuditEvent.Action.TOKEN_RETRIEVED,
                authentication=authentication,
                authentication_name=authentication.name,
                details={},
            )
            for authentication in made
            for _ in range(EVENTS_PER_AUTHENTICATION)
        ),
        batch_size=BATCH,
    )


def audit_events(count: int) -> None:
    """`count` more audit events, one a second back from now, spread over the authentications
    there are, a long tail of actors, and deleted authentications (known by name only)."""
    linked = list(HttpAuthentication.objects.order_by("pk").values_list("pk", "name"))
    actions = [action for action, _ in AuditEvent.Action.choices]
    now = timezone.now()

    def event(n: int) -> AuditEvent:
        if n % 20 == 0 or not linked:
            authentication_id, name = None, f"Deleted {n // 20 % DELETED_AUTHENTICATIONS:03d}"
        else:
            authentication_id, name = linked[n % len(linked)]
        return AuditEvent(
            actor_label="scheduler" if n % 2 else f"user{n // 2 % ACTORS:03d}",
            action=actions[n % len(actions)],
            authentication_id=authentication_id,
            authentication_name=name,
            created_at=now - dt.timedelta(seconds=n),
            details={"n": n},
        )

    AuditEvent.objects.bulk_create((event(n) for n in range(count)), batch_size=BATCH)


def first_authentication_pk() -> int:
    """The first authentication made: a page filtered to it has rows at every size."""
    return HttpAuthentication.objects.order_by("pk").values_list("pk", flat=True)[0]
