"""Emails nsconnect sends: one function per message, each a subject/text/html template trio."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import sanitize_address
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.urls import reverse

from authentications.models import AuditEvent, HttpAuthentication, SigningKey
from authentications.services.audit_trail import Actor, audit

logger = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[\s,;]+")


def mailable(address: str) -> bool:
    """Whether mail can carry `address`: valid as typed and as its To header writes it."""
    try:
        validate_email(address)
        # Mail sends the address as its To header writes it (the domain through IDNA), and
        # some that pass the validator do not survive that: a zero-width space makes the
        # codec fail, which stops the alert to everybody on the list; a full-width ":" or
        # ";" becomes a plain one, and so no address. The written form must be an address too.
        validate_email(sanitize_address(address, "utf-8"))
    except (forms.ValidationError, ValueError):
        return False
    return True


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
        if not address or address.lower() in seen:
            continue
        # One address mail cannot carry (saved before the form checked for it, or a staff
        # user's) would fail the whole message: it is left out, the others still get it.
        if not mailable(address):
            logger.warning(
                "left %r out of the mail about %s: not an address mail can carry",
                address,
                authentication.identifier,
            )
            continue
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


def send_certificate_expiry(
    signing_key_id: int, *, threshold_days: int, now: datetime, actor: Actor = "scheduler"
) -> list[str]:
    """Tell people a certificate expires in threshold_days or fewer (0: on the day, or it has).

    Returns the recipients. Whether to send at all is services/expiry_notices.py's decision.
    """
    signing_key = (
        SigningKey.objects.select_related("authentication").defer("private_key").get(pk=signing_key_id)
    )
    authentication = signing_key.authentication
    if authentication is None:
        return []
    recipients = recipients_for(authentication)
    name = "certificate_expired" if threshold_days == 0 else "certificate_expiring"
    context = {
        "authentication": authentication,
        "signing_key": signing_key,
        "threshold_days": threshold_days,
        "days_left": signing_key.days_left(now),
        "expired": signing_key.is_expired(now),
        "expires_at": signing_key.effective_expires_at,
        "url": record_url(authentication),
        "new_key_url": f"{settings.NSCONNECT_BASE_URL.rstrip('/')}{reverse('authentications:key_create')}",
    }
    if recipients:
        _send(name, context, recipients)
    else:
        logger.warning("no recipients for %s about %s", name, authentication.identifier)
    audit(
        action=AuditEvent.Action.ALERT_SENT,
        authentication=authentication,
        actor=actor,
        details={
            "email": name,
            "threshold_days": threshold_days,
            "certificate_id": signing_key.certificate_id,
            "recipients": recipients,
        },
    )
    return recipients
