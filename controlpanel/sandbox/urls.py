"""The vendor twins, each under ``/sandbox/<vendor>/`` followed by the vendor's real path.
Each vendor's twin lives in ``controlpanel/vendors/<vendor>/twin.py``."""

from __future__ import annotations

from django.urls import include, path

from controlpanel.vendors import twin_urlpatterns
from providers.registry import SLUGS

app_name = "sandbox"

urlpatterns = [path(f"{slug}/", include(twin_urlpatterns(slug))) for slug in SLUGS]
