"""Mail the certificate-expiry alerts that are due now, as the daily task does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from authentications.services import expiry_notices


class Command(BaseCommand):
    help = (
        "Compare every active signing key's effective expiry with NSCONNECT_EXPIRY_ALERT_DAYS and "
        "mail each threshold crossed for the first time. Safe to run at any time, and twice."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        sent = expiry_notices.check_certificates(actor="command line")
        for alert in sent:
            when = (
                "expiry" if alert.threshold_days == expiry_notices.EXPIRED else f"{alert.threshold_days}-day"
            )
            self.stdout.write(
                f"Sent the {when} alert for {alert.authentication_name} (certificate ID "
                f"{alert.certificate_id}, expires {alert.expires_at:%Y-%m-%d}, "
                f"{alert.days_left} days left) to {len(alert.recipients)} recipient"
                f"{'' if len(alert.recipients) == 1 else 's'}."
            )
        if not sent:
            self.stdout.write("No certificate alerts were due.")
