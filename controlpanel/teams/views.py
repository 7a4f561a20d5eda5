from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlpanel.teams import selectors, services
from controlpanel.teams.decorators import team_required
from controlpanel.teams.middleware import SESSION_KEY
from controlpanel.teams.permissions import ROLE_PERMISSIONS, Perm, Role


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autofocus": True}))


@require_GET
@team_required()
def team_detail(request: HttpRequest) -> HttpResponse:
    roles = [
        {"role": role, "perms": sorted(p.value.replace("_", " ") for p in ROLE_PERMISSIONS[role])} for role in Role
    ]
    return render(
        request,
        "teams/detail.html",
        {"members": selectors.team_members(team=request.team), "roles": roles, "Perm": Perm},
    )


@require_POST
@login_required
def team_switch(request: HttpRequest) -> HttpResponse:
    team_id = request.POST.get("team")
    membership = (
        selectors.membership_for(user=request.user, team_id=int(team_id)) if team_id and team_id.isdigit() else None
    )
    if membership is not None and str(membership.team_id) == team_id:
        request.session[SESSION_KEY] = membership.team_id
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return redirect(target)


@require_http_methods(["GET", "POST"])
@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
        request.session[SESSION_KEY] = team.pk
        return redirect("deployments:dashboard")
    return render(request, "teams/create.html", {"form": form})
