from __future__ import annotations

from django.urls import path

from controlpanel.credentials import views

app_name = "credentials"

urlpatterns = [
    path("", views.key_list, name="list"),
    path("add/", views.key_add, name="add"),
    path("<int:pk>/row/", views.key_row, name="row"),
    path("<int:pk>/verify/", views.key_verify, name="verify"),
    path("<int:pk>/rename/", views.key_rename, name="rename"),
    path("<int:pk>/rotate/", views.key_rotate, name="rotate"),
    path("<int:pk>/delete/", views.key_delete, name="delete"),
    path("<int:pk>/refresh/", views.key_refresh, name="refresh"),
]
