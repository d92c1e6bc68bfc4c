"""The "Send test request" button, a probe of NetSuite's REST record service: a resource called
with the authentication's current token (retrieved first if there is none), and what came
back, or why nothing did. Named for what it does, not test_*, which pytest would collect."""

from __future__ import annotations

from dataclasses import dataclass

from django.views.decorators.debug import sensitive_variables

from authentications.models import HttpAuthentication
from authentications.netsuite import http_exchange, rest_request, token_urls
from authentications.services import token_attempt, token_single_flight
from authentications.services.audit_trail import Actor

TEST_REQUEST_PATH = rest_request.TEST_REQUEST_PATH
# The path field takes as much (maxlength); a longer post is refused, not echoed.
MAX_REST_PATH_CHARS = rest_request.MAX_REST_PATH_CHARS


@dataclass(frozen=True)
class RestProbeOutcome:
    """NetSuite's answer (status, content type, first lines), or the reason there is none."""

    answer: rest_request.TestResponse | None = None
    error: str = ""


@sensitive_variables()
def rest_probe_send(
    *, authentication: HttpAuthentication, path: str, actor: Actor, ip_address: str | None
) -> RestProbeOutcome:
    try:
        rest_request.check_rest_path(path)  # before a token is fetched for a path that would be refused
        token = token_single_flight.token_get(
            authentication=authentication, actor=actor, ip_address=ip_address
        )
        answer = rest_request.send_test_request(
            token_url=authentication.token_url, access_token=token.value, path=path
        )
    except (http_exchange.TokenRequestError, token_urls.ProtocolValueError) as error:
        return RestProbeOutcome(error=str(error))
    except Exception as error:
        # Said, never a 500 page (whose debug version would show the bearer token).
        return RestProbeOutcome(
            error=token_attempt.failure_for(error, what="while sending the test request").message
        )
    return RestProbeOutcome(answer=answer)
