"""What every rotation step shares: the refusal it raises (RotationError), the authentication's
row lock, a pending key looked up by id, what the audit trail says about a key, and the kind of
key nsconnect would generate to match one."""

from __future__ import annotations

from typing import Any

from authentications.keys import generation
from authentications.models import HttpAuthentication, SigningKey


class RotationError(Exception):
    """A rotation step refused; the message says why, for the administrator."""


def key_details(signing_key: SigningKey) -> dict[str, Any]:
    """What the audit trail says about a key: never its private key."""
    return {
        "signing_key_id": signing_key.pk,
        "certificate_id": signing_key.certificate_id,
        "fingerprint_sha256": signing_key.fingerprint_sha256,
        "key": signing_key.key_description,
    }


def key_kind(signing_key: SigningKey) -> str | None:
    """The kind (generation.KEY_KINDS) nsconnect generates for a key like this one, read from its
    stored facts; None for a key of a size or curve it does not generate."""
    if signing_key.key_type == "RSA":
        kind = f"rsa{signing_key.key_size}"
    else:
        kind = "p" + signing_key.curve.removeprefix("P-")
    return kind if kind in generation.KEY_KINDS else None


def locked(authentication: HttpAuthentication) -> HttpAuthentication:
    """The authentication re-read with its row locked, inside the caller's transaction."""
    # Every swap locks the authentication's row first, so two swaps run one after the other.
    return HttpAuthentication.objects.select_for_update().get(pk=authentication.pk)


def pending_key_by_id(
    authentication: HttpAuthentication, signing_key_id: int, *, lock: bool = False
) -> SigningKey:
    keys_ = SigningKey.objects.select_for_update() if lock else SigningKey.objects
    signing_key = keys_.filter(
        pk=signing_key_id, authentication=authentication, state=SigningKey.State.PENDING
    ).first()
    if signing_key is None:
        raise RotationError("This pending key is gone: it was activated or abandoned meanwhile.")
    return signing_key
