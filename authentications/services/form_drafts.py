"""What the HTTP Authentication form holds between its requests, server-side in the session: the
private key pasted on it (so an error in another field does not make the person paste it again)
and what its last Retrieve proved, tied to exactly the values it tried, for Save to keep that
token or to ask before saving credentials NetSuite refused.

Each form on screen is a draft, named by a random id in a hidden field (never a secret). The
session holds only ciphertext of the key and the token (NSCONNECT_ENCRYPTION_KEYS), and at most
MAX_DRAFTS drafts, each for DRAFT_LIFETIME after its last change.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from authentications.fields import DecryptionError, decrypt, encrypt
from authentications.keys import private_keys
from authentications.netsuite import assertion, http_exchange, token_request

SESSION_KEY = "authentication_form_drafts"
MAX_DRAFTS = 4
DRAFT_LIFETIME = timedelta(hours=1)
# A token kept for Save must still be good for a while once stored.
MIN_TOKEN_LIFE = timedelta(minutes=2)
_DRAFT_ID = re.compile(r"[A-Za-z0-9_-]{22}")


@dataclass(frozen=True)
class KeptKey:
    """A pasted private key held for its form, described by its facts."""

    key_type: str
    key_size: int
    curve: str
    # SHA-256 of the public key (SubjectPublicKeyInfo, DER): what `openssl pkey -pubout` hashes to.
    fingerprint_sha256: str
    ciphertext: str = field(repr=False)

    @property
    def description(self) -> str:
        return f"EC {self.curve}" if self.key_type == "EC" else f"RSA {self.key_size}"

    @sensitive_variables()
    def private_key(self) -> private_keys.PrivateKey:
        """The key, loaded without OpenSSL's slow RSA check: it was fully checked when pasted."""
        loaded = serialization.load_pem_private_key(
            decrypt(self.ciphertext).encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        return private_keys.check_key_allowed(loaded)


@dataclass(frozen=True)
class ProvenToken:
    """A token NetSuite issued to the form's Retrieve, for the values the form still shows."""

    value: str = field(repr=False)
    token_type: str
    obtained_at: datetime
    expires_at: datetime


def key_kind(key: private_keys.PrivateKey) -> tuple[str, str]:
    """("RSA", "") or ("EC", its curve as NetSuite names it: P-256, P-384, P-521)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "EC", private_keys.ALLOWED_CURVES[key.curve.name]
    return "RSA", ""


def public_key_fingerprint(key: private_keys.PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@sensitive_variables()
def proof_of(credentials: assertion.Credentials) -> str:
    """What a Retrieve proved is tied to: every value the assertion and its request depend on."""
    values = [
        credentials.consumer_key,
        credentials.certificate_id,
        credentials.algorithm,
        ",".join(credentials.scopes),
        credentials.token_url,
        public_key_fingerprint(credentials.private_key),
    ]
    return hashlib.sha256(json.dumps(values).encode()).hexdigest()


class FormDraft:
    """One form's draft in a session; opened by the id the form posted (a new one if unknown)."""

    def __init__(self, session: SessionBase, draft_id: str = "") -> None:
        self.session = session
        self.id = draft_id if _DRAFT_ID.fullmatch(draft_id or "") else secrets.token_urlsafe(16)

    # --- the private key ------------------------------------------------------------------

    def kept_key(self) -> KeptKey | None:
        kept = self._read().get("key")
        if not kept:
            return None
        return KeptKey(
            key_type=kept["type"],
            key_size=kept["size"],
            curve=kept["curve"],
            fingerprint_sha256=kept["fingerprint"],
            ciphertext=kept["pem"],
        )

    @sensitive_variables()
    def keep_key(self, key: private_keys.PrivateKey) -> KeptKey:
        """Hold a checked key for this form: unencrypted PKCS#8 (a passphrase is never kept),
        encrypted with NSCONNECT_ENCRYPTION_KEYS."""
        key_type, curve = key_kind(key)
        kept = {
            "type": key_type,
            "size": key.key_size,
            "curve": curve,
            "fingerprint": public_key_fingerprint(key),
            "pem": encrypt(private_keys.serialize_private_key(key)),
        }
        self._write(key=kept)
        kept_key = self.kept_key()
        assert kept_key is not None  # noqa: S101  (just written)
        return kept_key

    def forget_key(self) -> None:
        self._write(key=None)

    # --- what the last Retrieve proved -------------------------------------------------------

    @sensitive_variables()
    def record_token(
        self, credentials: assertion.Credentials, response: token_request.TokenResponse, now: datetime
    ) -> None:
        self._write(
            retrieve={
                "proof": proof_of(credentials),
                "token": encrypt(response.access_token),
                "token_type": response.token_type,
                "obtained_at": now.isoformat(),
                "expires_at": response.expires_at(now).isoformat(),
            }
        )

    def record_failure(
        self, credentials: assertion.Credentials, failure: http_exchange.TokenRequestError
    ) -> None:
        # NetSuite not answering says nothing about the credentials: Save need not ask then.
        refusal = "" if failure.is_transient else failure.message
        self._write(retrieve={"proof": proof_of(credentials), "refusal": refusal})

    @sensitive_variables()
    def proven_token(
        self, credentials: assertion.Credentials, now: datetime | None = None
    ) -> ProvenToken | None:
        """The token the last Retrieve got, if it tried exactly these credentials and is still good."""
        last = self._last_retrieve(credentials)
        if not last or "token" not in last:
            return None
        expires_at = datetime.fromisoformat(last["expires_at"])
        if expires_at - (now or timezone.now()) < MIN_TOKEN_LIFE:
            return None
        try:
            value = decrypt(last["token"])
        except DecryptionError:
            return None  # the encryption key changed meanwhile: the worker gets a token instead
        return ProvenToken(
            value=value,
            token_type=last["token_type"],
            obtained_at=datetime.fromisoformat(last["obtained_at"]),
            expires_at=expires_at,
        )

    def refusal(self, credentials: assertion.Credentials) -> str:
        """NetSuite's refusal of exactly these credentials at the last Retrieve; "" if none."""
        last = self._last_retrieve(credentials)
        return str(last.get("refusal", "")) if last else ""

    def discard(self) -> None:
        drafts = self._drafts()
        if drafts.pop(self.id, None) is not None:
            self.session[SESSION_KEY] = drafts

    # --- the session ---------------------------------------------------------------------

    def _last_retrieve(self, credentials: assertion.Credentials) -> dict[str, Any] | None:
        last = self._read().get("retrieve")
        if not last or not secrets.compare_digest(last["proof"], proof_of(credentials)):
            return None
        return dict(last)

    def _drafts(self) -> dict[str, Any]:
        """The session's drafts less the expired ones."""
        drafts = self.session.get(SESSION_KEY) or {}
        oldest = (timezone.now() - DRAFT_LIFETIME).timestamp()
        return {id_: draft for id_, draft in drafts.items() if draft.get("changed_at", 0) > oldest}

    def _read(self) -> dict[str, Any]:
        return dict(self._drafts().get(self.id) or {})

    def _write(self, **changes: Any) -> None:
        drafts = self._drafts()
        draft = {**drafts.pop(self.id, {}), **changes, "changed_at": timezone.now().timestamp()}
        draft = {name: value for name, value in draft.items() if value is not None}
        drafts[self.id] = draft
        # Most recently changed last; a session holds only the few newest forms' drafts.
        ordered = sorted(drafts.items(), key=lambda item: item[1]["changed_at"])
        self.session[SESSION_KEY] = dict(ordered[-MAX_DRAFTS:])
