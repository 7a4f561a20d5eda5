from __future__ import annotations

from django.urls import path

from controlpanel.limits import views

app_name = "limits"

urlpatterns = [
    path("", views.team_limits, name="team"),
    path("approvals/", views.approvals, name="approvals"),
    path("deployments/<int:pk>/approve/", views.approve, name="approve"),
    path("deployments/<int:pk>/refuse/", views.refuse, name="refuse"),
    path("deployments/<int:pk>/time-limit/", views.time_limit, name="time_limit"),
    path("deployments/<int:pk>/idle-rule/", views.idle_rule, name="idle_rule"),
]
