from __future__ import annotations

from django.urls import path

from controlpanel.costs import views

app_name = "costs"

urlpatterns = [
    path("", views.costs_page, name="page"),
    path("export.csv", views.costs_export, name="export"),
]
