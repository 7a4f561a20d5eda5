from __future__ import annotations

from django.urls import path

from controlpanel.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.channel_list, name="list"),
    path("add/", views.channel_add, name="add"),
    path("<int:pk>/", views.channel_detail, name="detail"),
    path("<int:pk>/settings/", views.channel_settings, name="settings"),
    path("<int:pk>/test/", views.channel_test, name="test"),
    path("<int:pk>/delete/", views.channel_delete, name="delete"),
]
