"""The project's URLs plus one no access rule mentions: the URL walker must notice it."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path

from controlpanel.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("unlisted/", lambda request: HttpResponse("hi"), name="unlisted-extra")]
