"""The domain: HTTP authentications, their signing keys, tokens and audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from authentications.fields import EncryptedTextField


class CertificateFacts(Protocol):
    """What a signing key stores of its certificate, as keys.certificates.CertificateFacts
    holds it (named here so that the models import nothing above them)."""

    @property
    def certificate_pem(self) -> str: ...

    @property
    def fingerprint_sha256(self) -> str: ...

    @property
    def subject(self) -> str: ...

    @property
    def not_before(self) -> datetime: ...

    @property
    def not_after(self) -> datetime: ...

    @property
    def key_type(self) -> str: ...

    @property
    def key_size(self) -> int: ...

    @property
    def curve(self) -> str: ...


# NetSuite shortens any certificate to two years from its upload.
NETSUITE_MAX_CERTIFICATE_DAYS = 730


class SettingsType(models.TextChoices):
    OAUTH2 = "oauth2", "OAuth2 authentication"


class Provider(models.TextChoices):
    NETSUITE = "netsuite", "Netsuite"


class JwtAlgorithm(models.TextChoices):
    # RS256/384/512 (PKCS#1 v1.5) are refused by NetSuite since 1 March 2025.
    PS256 = "PS256", "PS256"
    PS384 = "PS384", "PS384"
    PS512 = "PS512", "PS512"
    ES256 = "ES256", "ES256"
    ES384 = "ES384", "ES384"
    ES512 = "ES512", "ES512"


class HttpAuthenticationQuerySet(models.QuerySet["HttpAuthentication"]):
    def for_pages(self) -> HttpAuthenticationQuerySet:
        """With the token's expiry but not its value: pages show when a token expires, never
        what it is, so a value that no longer decrypts cannot break a page."""
        return self.select_related("access_token").defer("access_token__value")


class HttpAuthentication(models.Model):
    name = models.CharField(max_length=100, unique=True)
    identifier = models.SlugField(max_length=100, unique=True)
    settings_type = models.CharField(
        "settings", max_length=20, choices=SettingsType.choices, default=SettingsType.OAUTH2
    )
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.NETSUITE)
    jwt_algorithm = models.CharField(
        "JWT algorithm", max_length=5, choices=JwtAlgorithm.choices, default=JwtAlgorithm.PS256
    )
    consumer_key = models.CharField(max_length=255)
    scopes = models.CharField(max_length=100)
    account_id = models.CharField("account ID", max_length=40, blank=True)
    token_url = models.URLField("authentication URL", max_length=500)
    # For NetSuite's certificate rotation endpoint: the role and entity of the M2M mapping.
    netsuite_role_id = models.CharField("NetSuite role ID", max_length=20, blank=True)
    netsuite_entity_id = models.CharField("NetSuite entity ID", max_length=20, blank=True)
    enabled = models.BooleanField(
        default=True, help_text="Disabled authentications are not refreshed and serve no tokens."
    )
    alert_recipients = models.TextField(
        blank=True,
        help_text="Email addresses, comma or newline separated, told when token refresh keeps failing.",
    )

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    # Refresh status: what the last token retrieval did.
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_kind = models.CharField(max_length=40, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Back-off: no scheduled attempt before next_attempt_at; none at all while
    # retries_stopped (NetSuite said the credentials are wrong) until the record
    # is changed or someone presses Retrieve.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    retries_stopped = models.BooleanField(default=False)
    failure_alert_sent = models.BooleanField(default=False)
    # Single flight: whoever holds an unexpired lease is the one asking NetSuite.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    objects = HttpAuthenticationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [
            ("retrieve_token", "Can retrieve access tokens"),
            ("rotate_key", "Can rotate, verify, activate and roll back signing keys"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split(",") if scope]

    @property
    def account_host(self) -> str:
        return urlsplit(self.token_url).hostname or ""

    def active_key(self) -> SigningKey | None:
        # The private key is read (and decrypted) only by whoever signs with it, so pages
        # still show a record whose key no longer decrypts.
        return self.signing_keys.filter(state=SigningKey.State.ACTIVE).defer("private_key").first()

    def current_token(self) -> AccessToken | None:
        try:
            return self.access_token
        except AccessToken.DoesNotExist:
            return None


class SigningKey(models.Model):
    """One key version of an authentication: private key, certificate and its Certificate ID."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    # Empty for a key pair generated in the app that no authentication uses yet:
    # its certificate must reach NetSuite before there is a Certificate ID to enter.
    authentication = models.ForeignKey(
        HttpAuthentication,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="signing_keys",
    )
    certificate_id = models.CharField("certificate ID", max_length=255, blank=True)
    private_key = EncryptedTextField(blank=True)
    # Not a field: the private key's column as stored (its ciphertext), set by the readers
    # that leave private_key unread to sign (the scheduled refresh, token_attempt's on-demand
    # read); signing decrypts it only when this process has not loaded that very ciphertext
    # (loaded_keys.load_stored_ciphertext).
    private_key_ciphertext: str | None = None
    certificate_pem = models.TextField("certificate")
    key_type = models.CharField(max_length=3)  # "RSA" or "EC"
    key_size = models.PositiveIntegerField()
    curve = models.CharField(max_length=10, blank=True)  # "P-256", "P-384", "P-521"
    fingerprint_sha256 = models.CharField("SHA-256 fingerprint", max_length=64)
    subject = models.CharField(max_length=500, blank=True)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    # NetSuite cuts a certificate to two years from its upload there; when nobody told us
    # the upload day, the certificate's own notBefore is the earliest it can have been.
    uploaded_at = models.DateTimeField(
        "uploaded to NetSuite",
        null=True,
        blank=True,
        help_text="When the certificate was uploaded to NetSuite; empty when unknown.",
    )
    effective_expires_at = models.DateTimeField(
        help_text="The earlier of the certificate's notAfter and 730 days after its upload to "
        "NetSuite (or after its notBefore when the upload day is unknown)."
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A pending key may be activated only after a token was retrieved with it.
    verified_at = models.DateTimeField(null=True, blank=True)
    # A retired key's private key is wiped after the retention period; the row stays for history.
    wiped_at = models.DateTimeField(null=True, blank=True)
    # Revoked in NetSuite through nsconnect: NetSuite refuses it from then on, so no rollback to it.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["authentication"],
                condition=Q(state="active"),
                name="one_active_signing_key_per_authentication",
            )
        ]

    def __str__(self) -> str:
        return f"{self.certificate_id} ({self.get_state_display()})"

    @property
    def key_description(self) -> str:
        return f"EC {self.curve}" if self.key_type == "EC" else f"RSA {self.key_size}"

    @property
    def is_cut_by_netsuite(self) -> bool:
        """True when NetSuite's two-year cap ends the certificate before its notAfter."""
        return self.effective_expires_at < self.not_after

    def days_left(self, now: datetime | None = None) -> int:
        """Calendar days (UTC) until the effective expiry: 0 on the day itself, negative after."""
        today = (now or timezone.now()).astimezone(UTC).date()
        return (self.effective_expires_at.astimezone(UTC).date() - today).days

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.effective_expires_at <= (now or timezone.now())

    @property
    def upload_day_known(self) -> bool:
        """False when the two-year cut is counted from notBefore, the upload day being unknown."""
        return self.uploaded_at is not None

    @classmethod
    def for_certificate(
        cls, facts: CertificateFacts, *, added_at: datetime, uploaded_at: datetime | None, **fields: Any
    ) -> SigningKey:
        """A key version (not saved) holding a checked certificate's facts, added at added_at,
        uploaded to NetSuite at uploaded_at (None: unknown)."""
        return cls(
            certificate_pem=facts.certificate_pem,
            key_type=facts.key_type,
            key_size=facts.key_size,
            curve=facts.curve,
            fingerprint_sha256=facts.fingerprint_sha256,
            subject=facts.subject[:500],
            not_before=facts.not_before,
            not_after=facts.not_after,
            uploaded_at=uploaded_at,
            effective_expires_at=cls.effective_expiry(facts.not_after, facts.not_before, uploaded_at),
            created_at=added_at,
            **fields,
        )

    def set_uploaded_at(self, uploaded_at: datetime | None) -> None:
        """Record the day the certificate was uploaded to NetSuite (None: unknown) and the
        effective expiry counted from it; not saved."""
        self.uploaded_at = uploaded_at
        self.effective_expires_at = self.expiry_if_uploaded_at(uploaded_at)

    def expiry_if_uploaded_at(self, uploaded_at: datetime | None) -> datetime:
        """The effective expiry this certificate has if it was uploaded at uploaded_at."""
        return self.effective_expiry(self.not_after, self.not_before, uploaded_at)

    @staticmethod
    def effective_expiry(not_after: datetime, not_before: datetime, uploaded_at: datetime | None) -> datetime:
        """The earlier of notAfter and two years after the upload (or after notBefore, the
        earliest possible upload, when the upload day is unknown)."""
        counted_from = uploaded_at or not_before
        return min(not_after, counted_from + timedelta(days=NETSUITE_MAX_CERTIFICATE_DAYS))


class AccessToken(models.Model):
    """The current access token of an authentication (NetSuite issues no refresh token)."""

    authentication = models.OneToOneField(
        HttpAuthentication, on_delete=models.CASCADE, related_name="access_token"
    )
    value = EncryptedTextField()
    token_type = models.CharField(max_length=20, default="Bearer")
    obtained_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    signing_key = models.ForeignKey(
        SigningKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"token of {self.authentication_id} until {self.expires_at:%Y-%m-%d %H:%M}"

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(0, int((self.expires_at - (now or timezone.now())).total_seconds()))


class AuditEvent(models.Model):
    """Who did what to which authentication, when and from where; never a secret."""

    class Action(models.TextChoices):
        CREATE = "authentication.create", "Created"
        UPDATE = "authentication.update", "Edited"
        DELETE = "authentication.delete", "Deleted"
        TOKEN_RETRIEVED = "token.retrieved", "Token retrieved"
        TOKEN_FAILED = "token.failed", "Token retrieval failed"
        ALERT_SENT = "alert.sent", "Alert sent"
        KEY_GENERATED = "key.generated", "Key pair generated"
        API_CLIENT_CREATE = "api_client.create", "API client created"
        API_CLIENT_REVOKE = "api_client.revoke", "API client revoked"
        KEY_ADDED = "key.added", "Pending key added"
        KEY_VERIFIED = "key.verified", "Pending key verified"
        KEY_VERIFY_FAILED = "key.verify_failed", "Pending key verification failed"
        KEY_ACTIVATED = "key.activated", "Key activated"
        KEY_ABANDONED = "key.abandoned", "Pending key abandoned"
        KEY_ROLLED_BACK = "key.rolled_back", "Key rolled back"
        KEY_WIPED = "key.wiped", "Retired private key wiped"
        NETSUITE_CERTIFICATE_UPLOADED = "netsuite.certificate_uploaded", "Certificate uploaded to NetSuite"
        NETSUITE_CERTIFICATE_REVOKED = "netsuite.certificate_revoked", "Certificate revoked in NetSuite"
        KEY_CERTIFICATE_ID_SET = "key.certificate_id_set", "Pending key's Certificate ID set"
        KEY_PAIR_DELETED = "key.pair_deleted", "Unused key pair deleted"
        ALERT_FAILED = "alert.failed", "Alert could not be sent"
        SIGN_IN_LOCKED_OUT = "sign_in.locked_out", "Sign-in locked out"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text so the trail still reads after a user or record is deleted.
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=40, choices=Action.choices)
    authentication = models.ForeignKey(
        HttpAuthentication,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    authentication_name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The dashboard's latest failure of each authentication, and a record's own trail:
            # a seek per authentication, not a scan of its events.
            models.Index(
                fields=["authentication", "action", "-created_at"], name="audit_authentication_action"
            ),
            # The audit trail filtered to one action, newest first, pages by this.
            models.Index(fields=["action", "-created_at"], name="audit_action_created"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class ExpiryNotice(models.Model):
    """One certificate-expiry mail already sent: a (signing key, threshold) is mailed once.

    threshold_days is the number of days left it announces (60, 30, 14, 7, 1), or 0
    for the certificate's expiry itself. The unique pair decides, across every
    process, who sends.
    """

    signing_key = models.ForeignKey(SigningKey, on_delete=models.CASCADE, related_name="expiry_notices")
    threshold_days = models.IntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["signing_key", "threshold_days"], name="one_expiry_notice_per_key_and_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"{self.signing_key_id} at {self.threshold_days} days"
