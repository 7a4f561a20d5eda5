from __future__ import annotations

from django.urls import path

from controlpanel.teams import views

app_name = "teams"

urlpatterns = [
    path("", views.team_detail, name="detail"),
    path("switch/", views.team_switch, name="switch"),
    path("new/", views.team_create, name="create"),
]
