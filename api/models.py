"""API clients (the services that fetch tokens), their keys' hashes, use counts and rate windows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from authentications.models import HttpAuthentication


class ApiClient(models.Model):
    """A consuming service. Its API key is shown once when issued; only its SHA-256 is kept."""

    name = models.CharField(max_length=100, unique=True)
    # The 8 characters after "nsc_": not secret, shown to tell keys apart, and used to
    # find the row before the hash is compared.
    key_prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField("SHA-256 of the API key", max_length=64)
    authentications = models.ManyToManyField(
        HttpAuthentication,
        related_name="api_clients",
        help_text="The HTTP authentications whose tokens this client may read.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Rate limit: requests counted in the current one-minute window, claimed with
    # conditional UPDATEs so that every web process shares one count.
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def key_hint(self) -> str:
        """How the key is shown after its creation: enough to recognise it, useless to use it."""
        return f"nsc_{self.key_prefix}…"

    def may_read(self, authentication: HttpAuthentication) -> bool:
        return self.authentications.filter(pk=authentication.pk).exists()


class ApiUsage(models.Model):
    """How often a client asked for one authentication's token, and when it last did."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="usages")
    authentication = models.ForeignKey(
        HttpAuthentication, on_delete=models.CASCADE, related_name="api_usages"
    )
    count = models.PositiveBigIntegerField(default=0)
    last_used_at = models.DateTimeField()

    class Meta:
        verbose_name = "API usage"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "authentication"], name="one_usage_row_per_client_and_authentication"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client_id} × {self.authentication_id}: {self.count}"
