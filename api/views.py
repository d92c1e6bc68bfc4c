"""The token API: JSON for services holding an API key, never a sign-in page or a cached answer."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import redis
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, OperationalError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables

from api import apikeys, openapi, ratelimit, services
from api.models import ApiClient
from authentications.models import AccessToken, HttpAuthentication
from authentications.services import token_attempt, token_single_flight
from authentications.web import client_ip

logger = logging.getLogger(__name__)
# Seconds a client is asked to wait when the database is busy (a lock passes quickly) or the
# cache that counts requests does not answer.
BUSY_RETRY_AFTER = 5


class Refused(Exception):
    """Raised by the access helper with the answer the client gets instead of a token."""

    def __init__(self, response: JsonResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JsonResponse:
    code = openapi.ERROR_CODES[status][0]
    return JsonResponse({"error": code, "detail": detail}, status=status, headers=headers)


def _last_resort(
    view: Callable[..., JsonResponse], request: HttpRequest, *args: Any, **kwargs: Any
) -> JsonResponse:
    """The view's answer, or JSON whatever it raised: a service never gets an HTML error page,
    whose debug version would show the token."""
    try:
        return view(request, *args, **kwargs)
    except DatabaseError as error:
        logger.warning("database error in %s: %s", request.path, type(error).__name__)
        detail = "The database is busy; no token could be read or stored. Try again in a few seconds."
        return _error(503, detail, {"Retry-After": str(BUSY_RETRY_AFTER)})
    except (ratelimit.CountUnavailable, redis.ConnectionError, redis.TimeoutError) as error:
        logger.warning("the request count in %s is unavailable: %s", request.path, error)
        detail = "Requests are counted in a cache that is not answering. Try again in a few seconds."
        return _error(503, detail, {"Retry-After": str(BUSY_RETRY_AFTER)})
    except Exception as error:
        token_attempt.log_unexpected(f"in {request.path}", error)
        return _error(500, openapi.ERROR_CODES[500][1])


def api_view(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """GET only, no session sign-in and no CSRF (the caller shows an API key, not a cookie),
    never cached (tokens must not linger in a proxy or on disk), and JSON whatever happens."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        if request.method != "GET":
            response = _error(405, "Only GET is allowed.", {"Allow": "GET"})
        else:
            response = _last_resort(view, request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    return login_not_required(csrf_exempt(wrapped))


def _unauthorized(detail: str) -> Refused:
    return Refused(_error(401, detail, {"WWW-Authenticate": 'Bearer realm="nsconnect"'}))


def _grant_on_a_live_connection(key: str, identifier: str) -> apikeys.Grant | None:
    """The grant, read once more on a new connection if the kept one was dropped by the server
    (a restart, an idle timeout): the request's first query, so nothing was done on the old one.
    Connections are not checked before each request (CONN_HEALTH_CHECKS, in the settings)."""
    try:
        return apikeys.grant_for_key(key, identifier)
    except OperationalError:
        if connection.in_atomic_block or connection.is_usable():
            raise
        connection.close()
        return apikeys.grant_for_key(key, identifier)


def _client_and_authentication(
    request: HttpRequest, identifier: str
) -> tuple[ApiClient, HttpAuthentication, token_single_flight.StoredState | None]:
    """Who is asking, whether they may ask now, and for what; in that order, so that
    nothing about authentications is told to a caller without a valid key.

    A key allowed to read the authentication is found in one query, with what serving
    its token needs, and its use is counted with the rate limit's count (one round trip to
    Redis); only a refusal takes the longer way, which tells which check failed."""
    key = apikeys.bearer_key(request)
    if key is None:
        raise _unauthorized("Send an API key as 'Authorization: Bearer nsc_...'.")
    grant = _grant_on_a_live_connection(key, identifier)
    client = grant.client if grant is not None else apikeys.client_for_key(key)
    if client is None:
        raise _unauthorized("This API key is unknown or revoked.")
    use = None
    if grant is not None:
        use = services.api_usage_in_cache(client=client, authentication=grant.authentication)
    retry_after = ratelimit.admit(client, use=use)
    if retry_after is not None:
        detail = f"More than the allowed requests this minute; retry in {retry_after} s."
        raise Refused(_error(429, detail, {"Retry-After": str(retry_after)}))
    if grant is not None:
        if use is None:
            services.api_usage_record(client=client, authentication=grant.authentication)
        else:
            services.api_usage_flush_when_due()
        stored = token_single_flight.StoredState(token=grant.token, key_expires_at=grant.key_expires_at)
        return client, grant.authentication, stored
    authentication = HttpAuthentication.objects.filter(identifier=identifier).first()
    if authentication is None:
        raise Refused(_error(404, "No authentication has this identifier."))
    if not client.may_read(authentication):
        raise Refused(_error(403, "This API key may not read this authentication."))
    # Allowed since the first look: the token and the key are read again by the service.
    services.api_usage_record(client=client, authentication=authentication)
    return client, authentication, None


def _token_body(token: AccessToken, now: datetime) -> dict[str, Any]:
    # Whole seconds, rounded down: a consumer never believes a token lives longer than it does.
    expires_at = token.expires_at.astimezone(UTC).replace(microsecond=0)
    return {
        "access_token": token.value,
        "token_type": token.token_type,
        "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
        "expires_in": max(0, int((expires_at - now).total_seconds())),
    }


def _retry_after(authentication: HttpAuthentication) -> dict[str, str]:
    authentication.refresh_from_db(fields=["next_attempt_at"])
    next_attempt = authentication.next_attempt_at
    now = timezone.now()
    if next_attempt is None or next_attempt <= now:
        return {}
    return {"Retry-After": str(math.ceil((next_attempt - now).total_seconds()))}


@api_view
@sensitive_variables()
def token(request: HttpRequest, identifier: str) -> JsonResponse:
    try:
        client, authentication, stored = _client_and_authentication(request, identifier)
    except Refused as refused:
        return refused.response
    try:
        # The caller's address goes in the audit trail, as for every web request.
        access_token = token_single_flight.token_for_consumer(
            authentication,
            actor=f"api client {client.name}",
            ip_address=client_ip(request),
            stored=stored,
        )
    except token_single_flight.TokenUnavailable as error:
        return _error(503, str(error), _retry_after(authentication))
    return JsonResponse(_token_body(access_token, timezone.now()))


@api_view
def openapi_document(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi.document())


@api_view
def not_found(request: HttpRequest, path: str) -> JsonResponse:
    return _error(404, "No such API endpoint; see /api/v1/openapi.json.")
