"""Sign-in throttling and password reset: the limits django-axes applies, the lockout
page and its audit event, password change throttled like sign-in, and password reset
pages offered only when email is delivered."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator

from authentications.models import AuditEvent
from authentications.services.audit_trail import audit
from authentications.web import client_ip

# Backends that keep mail on this machine: a reset link sent there reaches nobody.
UNDELIVERED_EMAIL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    }
)
PASSWORD_RESET_WINDOW = timedelta(hours=1)


def cool_off_minutes() -> int:
    cool_off = get_cool_off() or timedelta(0)
    return max(1, round(cool_off.total_seconds() / 60))


def own_failures(request: HttpRequest, username: str, ip_address: str | None) -> int:
    """How often this user failed to sign in from this address within the cool-off."""
    since = timezone.now() - (get_cool_off(request) or timedelta(days=36500))
    failures = AccessAttempt.objects.filter(
        username=username, ip_address=ip_address, attempt_time__gte=since
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return failures or 0


def failure_limit(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    """The limit django-axes compares with its failure count for this sign-in.

    Axes counts by [user and address] and by [address] and keeps the larger, which is
    always the address's count; it has one limit. So a user's own limit is met by
    answering 1 (any count reaches it) once that user failed often enough from this
    address, and the address's limit otherwise."""
    username = get_client_username(request, credentials)
    if username is None:
        return settings.NSCONNECT_SIGN_IN_FAILURES_PER_ADDRESS
    address = getattr(request, "axes_ip_address", None) or client_ip(request)
    if own_failures(request, username, address) >= settings.NSCONNECT_SIGN_IN_FAILURES_PER_USER:
        return 1
    return settings.NSCONNECT_SIGN_IN_FAILURES_PER_ADDRESS


@receiver(user_logged_in, dispatch_uid="authentications.views.sign_in.clear_own_failures")
def clear_own_failures(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Axes' own reset (AXES_RESET_ON_SUCCESS) deletes whatever matches any lockout
    # parameter, the whole address included: anyone with an account could then wipe
    # another user's failures. A right password vouches only for its own user here.
    if request is None:
        return
    AccessAttempt.objects.filter(username=user.get_username(), ip_address=client_ip(request)).delete()


def locked_out_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The plain page a locked-out sign-in gets, from the sign-in page or the admin's."""
    return render(request, "registration/locked_out.html", {"minutes": cool_off_minutes()}, status=429)


@receiver(user_locked_out, dispatch_uid="authentications.views.sign_in.audit_lockout")
def audit_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    # Axes signals every refused attempt; the trail wants one event per lockout: per user
    # and address when that user failed too often, else per address, whatever username
    # each refused attempt names (else anyone could grow the trail without end).
    label = (username or "unknown")[:150]
    own = username is not None and (
        own_failures(request, username, ip_address) >= settings.NSCONNECT_SIGN_IN_FAILURES_PER_USER
    )
    scope = "user" if own else "address"
    lockouts = AuditEvent.objects.filter(
        action=AuditEvent.Action.SIGN_IN_LOCKED_OUT,
        ip_address=ip_address,
        created_at__gte=timezone.now() - (get_cool_off(request) or PASSWORD_RESET_WINDOW),
    )
    # Once the address is paused, axes goes on counting each refused attempt against the
    # username it names, so every new name would reach its own limit: the address's pause
    # already says it all.
    if lockouts.filter(details__scope="address").exists():
        return
    if own and lockouts.filter(details__scope="user", actor_label=label).exists():
        return
    audit(
        action=AuditEvent.Action.SIGN_IN_LOCKED_OUT,
        authentication=None,
        actor=label,
        ip_address=ip_address,
        details={"minutes": cool_off_minutes(), "scope": scope},
    )


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str | None:
    """The username a sign-in names, as django-axes counts and stores it: cut to the longest a
    username can be, so a longer one is counted, not a database error (its column is 255)."""
    field = settings.AXES_USERNAME_FORM_FIELD
    source: Any = credentials if credentials else request.POST
    username = source.get(field)
    if not isinstance(username, str):
        return None
    return username[: get_user_model()._meta.get_field("username").max_length or 150]


def password_reset_offered() -> bool:
    return settings.EMAIL_BACKEND not in UNDELIVERED_EMAIL_BACKENDS


def _admitted(kind: str, value: str, limit: int) -> bool:
    # A fixed one-hour window in the cache; the value is hashed so no address sits in a key.
    window = int(timezone.now().timestamp() // PASSWORD_RESET_WINDOW.total_seconds())
    digest = hashlib.sha256(value.encode()).hexdigest()
    key = f"nsconnect:password-reset:{kind}:{digest}:{window}"
    cache.add(key, 0, timeout=int(PASSWORD_RESET_WINDOW.total_seconds()))
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=int(PASSWORD_RESET_WINDOW.total_seconds()))
        count = 1
    return count <= limit


class SignInView(auth_views.LoginView):
    """Django's sign-in page, offering password reset only where a reset mail can arrive."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "password_reset_offered": password_reset_offered()}


@method_decorator(login_not_required, name="dispatch")
class OfferedWithEmailMixin:
    """A password reset page that does not exist unless email is delivered."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not password_reset_offered():
            raise Http404("Password reset needs email (EMAIL_URL).")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class PasswordResetRequestView(OfferedWithEmailMixin, auth_views.PasswordResetView):
    """Django's reset request, counted per address and per email address."""

    def form_valid(self, form: Any) -> HttpResponse:
        address = client_ip(self.request) or "unknown"
        if not _admitted("address", address, settings.NSCONNECT_PASSWORD_RESETS_PER_ADDRESS):
            return render(
                self.request,
                "registration/password_reset_throttled.html",
                {"minutes": int(PASSWORD_RESET_WINDOW.total_seconds() // 60)},
                status=429,
            )
        email = form.cleaned_data["email"].strip().lower()
        if not _admitted("email", email, settings.NSCONNECT_PASSWORD_RESETS_PER_EMAIL):
            # The same answer as a mail sent: never tell whether an account exists.
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetDoneView(OfferedWithEmailMixin, auth_views.PasswordResetDoneView):
    pass


class PasswordResetConfirmView(OfferedWithEmailMixin, auth_views.PasswordResetConfirmView):
    pass


class PasswordResetCompleteView(OfferedWithEmailMixin, auth_views.PasswordResetCompleteView):
    pass


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's password change, its old password checked the way a sign-in is.

    Checked through authenticate(), so django-axes counts a wrong one with the user's
    failed sign-ins from this address and refuses once they are paused: else a stolen
    session could guess the password here without limit."""

    def __init__(self, user: Any, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if checked is None or checked.pk != self.user.pk:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change page, throttled like sign-in (a pause answers 429)."""

    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}
