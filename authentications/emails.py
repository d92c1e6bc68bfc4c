"""Emails nsconnect sends: one function per message, each a subject/text/html template trio."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from authentications.models import AuditEvent, HttpAuthentication

logger = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[\s,;]+")


def recipients_for(authentication: HttpAuthentication) -> list[str]:
    """Active staff with an address, NSCONNECT_ALERT_EMAILS, and the record's own list; no duplicates."""
    staff = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    addresses = [
        *staff.values_list("email", flat=True),
        *settings.NSCONNECT_ALERT_EMAILS,
        *_SEPARATORS.split(authentication.alert_recipients),
    ]
    seen: dict[str, str] = {}
    for address in addresses:
        address = address.strip()
        if address and address.lower() not in seen:
            seen[address.lower()] = address
    return list(seen.values())


def record_url(authentication: HttpAuthentication) -> str:
    path = reverse("authentications:detail", args=[authentication.identifier])
    return f"{settings.NSCONNECT_BASE_URL.rstrip('/')}{path}"


def _send(name: str, context: dict[str, Any], recipients: list[str]) -> None:
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}.txt", context),
        to=recipients,
    )
    message.attach_alternative(render_to_string(f"emails/{name}.html", context), "text/html")
    message.send()


def send_refresh_alert(authentication_id: int, *, recovered: bool) -> None:
    """Tell people that token refresh keeps failing for an authentication, or works again."""
    from authentications.services import audit

    authentication = HttpAuthentication.objects.filter(pk=authentication_id).first()
    if authentication is None:
        return
    recipients = recipients_for(authentication)
    name = "refresh_recovered" if recovered else "refresh_failing"
    if recipients:
        _send(name, {"authentication": authentication, "url": record_url(authentication)}, recipients)
    else:
        logger.warning("no recipients for %s about %s", name, authentication.identifier)
    audit(
        action=AuditEvent.Action.ALERT_SENT,
        authentication=authentication,
        actor="scheduler",
        details={"email": name, "recipients": recipients},
    )
