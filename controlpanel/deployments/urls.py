from __future__ import annotations

from django.urls import path

from controlpanel.deployments import views

app_name = "deployments"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("deployments/bulk/", views.bulk, name="bulk"),
    path("deployments/new/", views.new, name="new"),
    path("deployments/anywhere/", views.anywhere, name="anywhere"),
    path("deployments/anywhere/choose/", views.anywhere_choose, name="anywhere_choose"),
    path("deployments/new/<str:vendor>/", views.create, name="create"),
    path("deployments/new/<str:vendor>/validate/", views.validate, name="validate"),
    path("deployments/<int:pk>/", views.detail, name="detail"),
    path("deployments/<int:pk>/edit/", views.edit, name="edit"),
    path("deployments/<int:pk>/scale/", views.scale, name="scale"),
    path("deployments/<int:pk>/logs/", views.logs, name="logs"),
    path("deployments/<int:pk>/<str:name>/", views.action, name="action"),
]
