"""The log-in page with throttling; Django's password reset with a cap on mails sent."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse, HttpResponseRedirect

from controlpanel.audit.middleware import client_ip
from controlpanel.core import throttle

THROTTLED = "throttled"


def _locked_message(seconds: int) -> str:
    n = throttle.minutes(seconds)
    return (
        f"Too many failed log-ins for this account from your address. Try again in {n} minute{'s' if n != 1 else ''}."
    )


class ThrottledAuthenticationForm(AuthenticationForm):
    """Refuses without checking the password while the username+address pair is locked."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request) if self.request is not None else None
        locked = throttle.login_lockout_seconds(username=username, ip=ip)
        if locked:
            raise forms.ValidationError(_locked_message(locked), code=THROTTLED)
        try:
            data = super().clean()
        except forms.ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_login":
                locked = throttle.login_failure_record(username=username, ip=ip)
                if locked:
                    raise forms.ValidationError(_locked_message(locked), code=THROTTLED) from None
            raise
        throttle.login_failures_clear(username=username, ip=ip)
        return data


class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if any(e.code == THROTTLED for e in form.non_field_errors().as_data()):
            response.status_code = 429
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form; past the hourly cap it answers exactly as if it had sent the
    mail (so it reveals nothing about the address) but sends nothing."""

    def form_valid(self, form: Any) -> HttpResponse:
        email = form.cleaned_data["email"]
        if not throttle.password_reset_allowed(email=email, ip=client_ip(self.request)):
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)
