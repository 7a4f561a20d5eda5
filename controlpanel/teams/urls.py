from __future__ import annotations

from django.urls import path

from controlpanel.teams import views

app_name = "teams"

urlpatterns = [
    path("", views.team_detail, name="detail"),
    path("switch/", views.team_switch, name="switch"),
    path("new/", views.team_create, name="create"),
    path("invite/", views.team_invite, name="invite"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<int:pk>/link/", views.invitation_new_link, name="invitation_link"),
    path("members/<int:pk>/role/", views.member_role, name="member_role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("leave/", views.team_leave, name="leave"),
    path("settings/", views.team_settings, name="settings"),
    path("settings/rename/", views.team_rename, name="rename"),
    path("settings/transfer/", views.team_transfer, name="transfer"),
    path("settings/delete/", views.team_delete, name="delete"),
    # Public: the link in an invitation email (the token is the credential).
    path("join/<str:token>/", views.join, name="join"),
]
