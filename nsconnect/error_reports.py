"""What Django's error pages and error mails may show: nothing secret, even with DEBUG on.

Django's own filter hides values marked with sensitive_variables and
sensitive_post_parameters only when DEBUG is off, on the grounds that a debug site
is not safe anyway. Here a debug page can still show a live bearer token or a private
key to whoever triggers it, so the marks hold whatever DEBUG says. And since the marks
are set only once a view runs, an error raised while the request is still being read
(a bad Host header, too many fields, a broken multipart body) is covered by names and
by where it happened, not by marks.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import FrameType
from typing import Any

import django
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Form fields that hold a secret wherever they are posted: keys, passphrases, passwords.
SECRET_FIELDS = re.compile(r"key|passphrase|password|secret|token|assertion", flags=re.IGNORECASE)
# Django's request parsing: its frames, and those it calls, hold the raw body (every
# posted field, secrets included) before any view could mark anything.
_REQUEST_PARSING = str(Path(django.__file__).parent / "http") + "/"


def _within_request_parsing(frame: FrameType | None) -> bool:
    """Whether this frame, or one that called it (urllib's parse_qsl, say), is Django's."""
    while frame is not None:
        if frame.f_code.co_filename.startswith(_REQUEST_PARSING):
            return True
        frame = frame.f_back
    return False


class SecretsFilter(SafeExceptionReporterFilter):
    # Django's list, plus settings that are URLs which may carry a password
    # (redis://:secret@host, amqp://user:secret@host).
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|BROKER_URL|RESULT_BACKEND|LOCATION",
        flags=re.IGNORECASE,
    )

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        try:
            parameters = super().get_post_parameters(request)
        except Exception:  # a body Django cannot read (an unknown charset): nothing to show
            return {}
        return self._cleansed_by_name(parameters)

    def get_cleansed_multivaluedict(self, request: HttpRequest, multivaluedict: Any) -> Any:
        return self._cleansed_by_name(super().get_cleansed_multivaluedict(request, multivaluedict))

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: FrameType) -> Any:
        if _within_request_parsing(tb_frame):
            return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
        return super().get_traceback_frame_variables(request, tb_frame)

    def _cleansed_by_name(self, parameters: Any) -> Any:
        if not isinstance(parameters, MultiValueDict) or not any(
            SECRET_FIELDS.search(name) for name in parameters
        ):
            return parameters
        cleansed = parameters.copy()
        for name in cleansed:
            if SECRET_FIELDS.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed


class SecretsReporter(ExceptionReporter):
    """Django's error page, which reads the request's files itself: a body Django cannot read
    (an unknown charset) would then break the page and leave a bare 500. It is shown as empty."""

    def get_traceback_data(self) -> dict[str, Any]:
        if self.request is not None:
            try:
                self.request.FILES  # noqa: B018  (reading it is the test)
            except Exception:
                # What Django itself keeps after a body it could not parse.
                vars(self.request).update(_post=QueryDict(), _files=MultiValueDict())
        return super().get_traceback_data()
