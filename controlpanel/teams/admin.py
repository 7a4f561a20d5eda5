from __future__ import annotations

from django.contrib import admin

from controlpanel.teams.models import Invitation, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at", "deleted_at"]
    list_filter = [("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting the row would cascade to its audit log; teams are closed in the panel
        # (Team settings → Delete), which keeps the log.
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """For looking only: invitations are made, accepted and revoked in the panel, where
    each step is checked and audited. The token exists only in the email."""

    list_display = ["email", "team", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "team__name"]
    exclude = ["token_hash"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
