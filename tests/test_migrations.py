"""Migration 0007 on a database that already holds keys: no expiry date moves, and a
certificate revoked through nsconnect before revoked_at existed is known as revoked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("authentications", "0006_roles")]
AFTER = [("authentications", "0007_signing_key_upload_and_revocation")]
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_0007(transactional_db) -> Iterator[Any]:
    apps = migrate(BEFORE)
    yield apps
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def signing_key(apps: Any, authentication: Any, fingerprint: str, state: str) -> Any:
    return apps.get_model("authentications", "SigningKey").objects.create(
        authentication=authentication,
        certificate_id=f"cert-{fingerprint}",
        certificate_pem="-",
        key_type="EC",
        key_size=256,
        curve="P-256",
        fingerprint_sha256=fingerprint,
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW + dt.timedelta(days=600),
        effective_expires_at=NOW + dt.timedelta(days=330),
        state=state,
        created_at=NOW - dt.timedelta(days=400),
    )


def test_keys_keep_their_expiry_and_earlier_revocations_are_recorded(before_0007):
    """GIVEN keys stored before 0007, one revoked in NetSuite through nsconnect (ok) and one whose
    revocation NetSuite refused WHEN 0007 runs THEN each keeps the day it was counted from, the
    revoked one has revoked_at from its audit event, and the refused one has none."""
    apps = before_0007
    authentication = apps.get_model("authentications", "HttpAuthentication").objects.create(
        name="Acme", identifier="acme", consumer_key="c" * 64, scopes="restlets", token_url="https://x"
    )
    revoked = signing_key(apps, authentication, "a" * 64, "retired")
    refused = signing_key(apps, authentication, "b" * 64, "retired")
    signing_key(apps, authentication, "c" * 64, "active")
    events = apps.get_model("authentications", "AuditEvent").objects
    for key, ok in ((revoked, True), (refused, False)):
        events.create(
            actor_label="alice",
            action="netsuite.certificate_revoked",
            authentication=authentication,
            authentication_name="Acme",
            created_at=NOW - dt.timedelta(days=3),
            details={"signing_key": key.fingerprint_sha256, "certificate_id": key.certificate_id, "ok": ok},
        )

    apps = migrate(AFTER)

    keys = {
        key.fingerprint_sha256[0]: key
        for key in apps.get_model("authentications", "SigningKey").objects.all()
    }
    assert keys["a"].revoked_at == NOW - dt.timedelta(days=3)
    assert keys["b"].revoked_at is None and keys["c"].revoked_at is None
    for key in keys.values():
        assert key.uploaded_at == key.created_at
        assert key.effective_expires_at == NOW + dt.timedelta(days=330)
