from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from controlpanel.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("keys/", include("controlpanel.credentials.urls")),
    path("team/", include("controlpanel.teams.urls")),
    path("audit/", include("controlpanel.audit.urls")),
    path("prices/", include("controlpanel.catalog.urls")),
    path("sandbox/", include("controlpanel.sandbox.urls")),
    path("admin/", admin.site.urls),
    path("", include("controlpanel.deployments.urls")),
]
