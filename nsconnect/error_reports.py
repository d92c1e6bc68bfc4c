"""What Django's error pages and error mails may show: nothing secret, even with DEBUG on.

Django's own filter hides values marked with sensitive_variables and
sensitive_post_parameters only when DEBUG is off, on the grounds that a debug site
is not safe anyway. Here a debug page can still show a live bearer token or a private
key to whoever triggers it, so the marks hold whatever DEBUG says.
"""

from __future__ import annotations

import re

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class SecretsFilter(SafeExceptionReporterFilter):
    # Django's list, plus settings that are URLs which may carry a password
    # (redis://:secret@host, amqp://user:secret@host).
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|BROKER_URL|RESULT_BACKEND|LOCATION",
        flags=re.IGNORECASE,
    )

    def is_active(self, request: HttpRequest | None) -> bool:
        return True
