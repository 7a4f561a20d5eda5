from __future__ import annotations

from django.urls import path

from controlpanel.unmanaged import views

app_name = "unmanaged"

urlpatterns = [
    path("", views.unmanaged_list, name="list"),
    path("<int:pk>/adopt/", views.adopt, name="adopt"),
    path("<int:pk>/ignore/", views.ignore, name="ignore"),
    path("<int:pk>/restore/", views.restore, name="restore"),
]
