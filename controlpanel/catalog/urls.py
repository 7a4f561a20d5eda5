from __future__ import annotations

from django.urls import path

from controlpanel.catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.prices, name="prices"),
]
