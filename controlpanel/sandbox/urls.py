"""The vendor twins, each under ``/sandbox/<vendor>/`` followed by the vendor's real path."""

from __future__ import annotations

from django.urls import include, path

from controlpanel.sandbox import fluence, nosana, novita, replicate, together

app_name = "sandbox"

urlpatterns = [
    path("nosana/", include(nosana.urlpatterns)),
    path("together/", include(together.urlpatterns)),
    path("replicate/", include(replicate.urlpatterns)),
    path("fluence/", include(fluence.urlpatterns)),
    path("novita/", include(novita.urlpatterns)),
]
