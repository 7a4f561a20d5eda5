from __future__ import annotations

from django.urls import path

from controlpanel.blueprints import views

app_name = "blueprints"

urlpatterns = [
    path("", views.template_list, name="list"),
    path("save/<str:vendor>/", views.save, name="save"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/delete/", views.delete, name="delete"),
]
