from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from controlpanel.api import errors as api_errors
from controlpanel.api.api import api
from controlpanel.core import auth
from controlpanel.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("vendors.css", core_views.vendor_css, name="vendor-css"),
    path("parts-banner", core_views.parts_banner, name="parts-banner"),
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Django's password views, in the panel's templates (templates/registration/).
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password/reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("keys/", include("controlpanel.credentials.urls")),
    path("team/notifications/", include("controlpanel.notifications.urls")),
    path("limits/", include("controlpanel.limits.urls")),
    path("unmanaged/", include("controlpanel.unmanaged.urls")),
    path("costs/", include("controlpanel.costs.urls")),
    path("team/", include("controlpanel.teams.urls")),
    path("audit/", include("controlpanel.audit.urls")),
    path("prices/", include("controlpanel.catalog.urls")),
    path("templates/", include("controlpanel.blueprints.urls")),
    path("account/api-tokens/", include("controlpanel.api.urls")),
    path("api/v1/", api.urls),
    path("api/<path:rest>", api_errors.not_found, name="api-not-found"),
    path("admin/", admin.site.urls),
    path("", include("controlpanel.deployments.urls")),
]

if settings.PANEL_SANDBOX:  # off in production unless asked for: anyone could write to it
    urlpatterns.insert(-1, path("sandbox/", include("controlpanel.sandbox.urls")))
