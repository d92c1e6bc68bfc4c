"""Neither the API key nor a private key ever reaches a response or a log, but the one-time page."""

from __future__ import annotations

import logging
import re

import pytest

from tests.api.consumer import get_token

pytestmark = pytest.mark.django_db

KEY = re.compile(r"nsc_[A-Za-z0-9_-]{43}")


def test_no_answer_or_log_line_holds_the_api_key_or_a_private_key(
    sam_client, client, register, create_authentication, fake_netsuite, settings, caplog
):
    settings.NSCONNECT_API_RATE_LIMIT = 7
    registered = register("rsa3072")
    acme = create_authentication(registered)
    create_authentication(register("p256"), name="Beta WMS")
    private_key_line = registered.private_key_pem.splitlines()[1]
    bodies = []
    with caplog.at_level(logging.DEBUG):
        shown = sam_client.post("/api-clients/new/", {"name": "Orders ETL", "authentications": [acme.pk]})
        (key,) = set(KEY.findall(shown.content.decode()))
        bodies += [get_token(client, "acme-erp", key) for _ in range(2)]  # 200
        bodies.append(get_token(client, "beta-wms", key))  # 403
        bodies.append(get_token(client, "no-such-thing", key))  # 404
        bodies.append(get_token(client, "acme-erp", key, method="post"))  # 405
        bodies.append(get_token(client, "acme-erp", key[:-1] + "x"))  # 401
        acme.access_token.delete()
        fake_netsuite.fail_next("invalid_client")
        bodies.append(get_token(client, "acme-erp", key))  # 503
        bodies += [get_token(client, "acme-erp", key) for _ in range(3)]  # 503 then 429
        bodies += [
            sam_client.get(url)
            for url in ("/api-clients/", "/authentications/acme-erp/", "/api/v1/openapi.json")
        ]
    statuses = {response.status_code for response in bodies}
    assert statuses == {200, 401, 403, 404, 405, 429, 503}
    for response in bodies:
        text = response.content.decode()
        assert key not in text and key[12:] not in text
        assert private_key_line not in text
    assert caplog.text, "the requests above should have logged something"
    assert key[12:] not in caplog.text
    assert private_key_line not in caplog.text
