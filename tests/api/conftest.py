"""Fixtures for the token API: a key administrator, a saved authentication, and API keys."""

from __future__ import annotations

from typing import Any

import pytest

from api import services
from api.services import IssuedClient
from authentications.models import HttpAuthentication
from tests.conftest import put_in_role


@pytest.fixture
def sam(django_user_model: Any) -> Any:
    """Sam is staff and a key administrator: Sam issues and revokes API keys."""
    user = django_user_model.objects.create_user(username="sam", password="x", is_staff=True)
    return put_in_role(user, "Key administrators")


@pytest.fixture
def sam_client(client: Any, sam: Any) -> Any:
    client.force_login(sam)
    return client


@pytest.fixture
def acme(register: Any, create_authentication: Any) -> HttpAuthentication:
    """The authentication "Acme ERP" (identifier acme-erp), whose key NetSuite knows."""
    return create_authentication(register("p256"))


@pytest.fixture
def issue(sam: Any):
    """Issue an API key the way the staff page does, allowed to read the given authentications."""

    def _issue(*authentications: HttpAuthentication, name: str = "Orders ETL") -> IssuedClient:
        return services.api_client_create(actor=sam, name=name, authentications=authentications)

    return _issue
