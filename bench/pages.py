"""The pages people open most, at 50 and at 5,000 authentications (with a token, an active key
and audit events each): SQL queries per page, which must not grow, and the time, reported."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from typing import Any

from bench import environment
from bench.table import Row

SIZES = (50, 5000)
PAGES = [("/", "dashboard"), ("/authentications/", "authentication list"), ("/audit/", "audit trail")]
EVENTS_PER_AUTHENTICATION = 3


def run() -> list[Row]:
    environment.set_up(environment.sqlite_url("pages"), environment.filesystem_broker_url("pages"))
    from django.conf import settings
    from django.test.utils import override_settings

    # The manifest storage wants collectstatic; the pages are measured, not their assets.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    try:
        with override_settings(STORAGES=storages):
            return measure()
    finally:
        environment.clean_up()


def seed(start: int, stop: int) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from django.utils import timezone

    from authentications.models import AccessToken, AuditEvent, HttpAuthentication, SigningKey
    from tests import keyfactory

    key = keyfactory.private_key("p256")
    pem, certificate = keyfactory.private_pem(key), keyfactory.certificate_pem(key)
    der = x509.load_pem_x509_certificate(certificate.encode()).public_bytes(serialization.Encoding.DER)
    now = timezone.now()
    HttpAuthentication.objects.bulk_create(
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
    )
    authentications = list(HttpAuthentication.objects.filter(signing_keys__isnull=True))
    keys = SigningKey.objects.bulk_create(
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
        for authentication in authentications
    )
    AccessToken.objects.bulk_create(
        AccessToken(
            authentication=signing_key.authentication,
            value="bench-token",
            obtained_at=now,
            expires_at=now + dt.timedelta(hours=1),
            signing_key=signing_key,
        )
        for signing_key in keys
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor_label="scheduler",
            action=AuditEvent.Action.TOKEN_RETRIEVED,
            authentication=authentication,
            authentication_name=authentication.name,
            details={},
        )
        for authentication in authentications
        for _ in range(EVENTS_PER_AUTHENTICATION)
    )


def measure() -> list[Row]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "not-used-bench")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    seen: dict[str, list[tuple[int, float, int]]] = {path: [] for path, _ in PAGES}
    made = 0
    for size in SIZES:
        seed(made, size)
        made = size
        for path, _ in PAGES:
            client.get(path)  # warm: templates, caches
            statements: list[str] = []

            def count(
                execute: Any, sql: str, params: Any, many: bool, context: Any, seen: list[str] = statements
            ) -> Any:
                seen.append(sql)
                return execute(sql, params, many, context)

            # Counted as they run: the query log is emptied at each request's start.
            with connection.execute_wrapper(count):
                response = client.get(path)
            took = []
            for _ in range(3):
                started = time.perf_counter()
                client.get(path)
                took.append(time.perf_counter() - started)
            seen[path].append((len(statements), min(took), len(response.content)))
    rows = []
    for path, name in PAGES:
        (small_q, small_t, _), (big_q, big_t, big_bytes) = seen[path]
        rows.append(
            Row(
                f"{name} ({path}), {SIZES[0]:,} then {SIZES[1]:,} authentications",
                f"{small_q} then {big_q} queries; {small_t * 1000:.0f} then {big_t * 1000:.0f} ms "
                f"({big_t / small_t:.1f}x), {big_bytes // 1024} KiB",
                "queries flat; time reported",
                big_q <= small_q,
            )
        )
    return rows
