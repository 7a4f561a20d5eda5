"""Team screens: members and invitations, the owner's settings, the switcher, joining."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from controlpanel.core.text import plain_int
from controlpanel.teams import selectors, services
from controlpanel.teams.decorators import team_required
from controlpanel.teams.forms import (
    DeleteTeamForm,
    InviteForm,
    RenameTeamForm,
    RoleForm,
    SignupForm,
    TeamForm,
    TransferForm,
)
from controlpanel.teams.middleware import SESSION_KEY
from controlpanel.teams.permissions import (
    ROLE_EFFECTS,
    ROLE_PERMISSIONS,
    Perm,
    Role,
    assignable_roles,
    perm_to_assign,
)

logger = logging.getLogger(__name__)


def _toast(response: HttpResponse, message: str, level: str = "success") -> HttpResponse:
    return trigger_client_event(response, "toast", {"message": message, "level": level})


def _member_rows(request: HttpRequest, members: Any) -> list[dict[str, Any]]:
    """Each member with what the person looking may do to them (so only usable controls render)."""
    me = request.membership
    choices = assignable_roles(me.role)
    rows = []
    for m in members:
        may_touch = me.can(Perm.MANAGE_MEMBERS) and me.can(perm_to_assign(m.role))
        rows.append(
            {
                "m": m,
                "is_me": m.pk == me.pk,
                "can_change": may_touch,
                "can_remove": may_touch and m.pk != me.pk,
                "choices": choices if m.role in choices else [Role(m.role), *choices],
            }
        )
    return rows


def _row(request: HttpRequest, membership: Any, message: str = "", level: str = "success") -> HttpResponse:
    response = render(request, "teams/_member_row.html", {"row": _member_rows(request, [membership])[0]})
    return _toast(response, message, level) if message else response


def _detail(request: HttpRequest, *, invite_form: InviteForm | None = None, **extra: Any) -> HttpResponse:
    me = request.membership
    roles = [
        {"role": role, "perms": sorted(p.value.replace("_", " ") for p in ROLE_PERMISSIONS[role])} for role in Role
    ]
    can_invite = me.can(Perm.MANAGE_MEMBERS)
    context = {
        "rows": _member_rows(request, selectors.team_members(team=request.team)),
        "roles": roles,
        "invite_form": invite_form or (InviteForm(inviter_role=me.role) if can_invite else None),
        "invitations": [
            {"i": i, "can_revoke": me.can(perm_to_assign(i.role))}
            for i in (selectors.team_pending_invitations(team=request.team) if can_invite else [])
        ],
        "invite_days": settings.PANEL_INVITE_DAYS,
        "role_effects": ROLE_EFFECTS,
        **extra,
    }
    return render(request, "teams/detail.html", context)


@require_GET
@team_required()
def team_detail(request: HttpRequest) -> HttpResponse:
    return _detail(request)


# --- invitations --------------------------------------------------------------------------------


@require_POST
@team_required(Perm.MANAGE_MEMBERS)
def team_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST, inviter_role=request.membership.role)
    if not form.is_valid():
        return _detail(request, invite_form=form)
    try:
        invitation, token = services.invitation_create(
            team=request.team, actor=request.user, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
        )
    except ValidationError as exc:
        form.add_error("email", exc.messages[0])
        return _detail(request, invite_form=form)
    url = request.build_absolute_uri(reverse("teams:join", args=[token]))
    try:
        services.invitation_send(invitation=invitation, token=token, accept_url=url)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("invitation_id=%s could not be sent: %s", invitation.pk, type(exc).__name__)
        why = f"The invitation is saved but the email to {invitation.email} could not be sent ({type(exc).__name__})."
        return _detail(request, invite_link=_invite_link(invitation, url, why, error=True))
    if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        # No mail server configured (the embedded default): the email went to the log only.
        why = f"No mail server is set up, so no email went to {invitation.email}."
        return _detail(request, invite_link=_invite_link(invitation, url, why))
    else:
        messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("teams:detail")


@require_POST
@team_required(Perm.MANAGE_MEMBERS)
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = selectors.team_invitation(team=request.team, pk=pk)
    try:
        services.invitation_revoke(invitation=invitation, actor=request.user)
    except ValidationError as exc:
        message, level = exc.messages[0], "error"
    else:
        message, level = f"Revoked the invitation of {invitation.email}.", "success"
    if request.htmx:
        return _toast(HttpResponse(""), message, level)
    getattr(messages, level)(request, message)
    return redirect("teams:detail")


def _invite_link(invitation: Any, url: str, why: str, *, error: bool = False) -> dict[str, Any]:
    """What the link box shows: the link itself exists only in this response (the
    database keeps its hash), so the box stays on the page, with a Copy button."""
    return {"email": invitation.email, "url": url, "why": why, "error": error, "expires_at": invitation.expires_at}


@require_POST
@team_required(Perm.MANAGE_MEMBERS)
def invitation_new_link(request: HttpRequest, pk: int) -> HttpResponse:
    """A fresh link for a pending invitation; the one made before stops working."""
    invitation = selectors.team_invitation(team=request.team, pk=pk)
    try:
        invitation, token = services.invitation_renew_link(invitation=invitation, actor=request.user)
    except ValidationError as exc:
        if request.htmx:
            return _toast(HttpResponse(status=204), exc.messages[0], "error")
        messages.error(request, exc.messages[0])
        return redirect("teams:detail")
    url = request.build_absolute_uri(reverse("teams:join", args=[token]))
    why = f"A new link for {invitation.email}: the one made before no longer works."
    link = _invite_link(invitation, url, why)
    if not request.htmx:
        return _detail(request, invite_link=link)
    item = {"i": invitation, "can_revoke": True}
    box = render(request, "teams/_invite_link.html", {"invite_link": link})
    row = {"item": item, "oob": True, "invite_days": settings.PANEL_INVITE_DAYS}
    # A <tr> cannot stand alone in HTML: htmx takes it out of a <template>.
    box.write(f"<template>{render_to_string('teams/_invitation_row.html', row, request)}</template>")
    return box


@never_cache
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Where an invitation link lands. Logged in: join with one click. Not logged in:
    create an account for the invited address, or log in and come back here.

    Opening the link changes nothing (mail scanners fetch links); only the POST joins."""
    try:
        invitation = services.invitation_check(token=token)
    except services.InvitationError as exc:
        return _invalid(request, exc)
    context: dict[str, Any] = {"invitation": invitation, "role": Role(invitation.role).label}
    if request.user.is_authenticated:
        context["wrong_account"] = not services.email_matches(request.user, invitation)
        if request.method == "POST" and not context["wrong_account"]:
            try:
                membership, created = services.invitation_accept(token=token, user=request.user)
            except services.InvitationError as exc:
                return _invalid(request, exc)
            return _joined(request, membership, created)
        status = 403 if request.method == "POST" else 200
        return render(request, "teams/join.html", context, status=status)
    form = SignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_signup(
                token=token, username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except services.InvitationError as exc:
            return _invalid(request, exc)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        membership = selectors.membership_for(user=user, team_id=invitation.team_id)
        return _joined(request, membership, True)
    context.update(form=form, login_url=f"{reverse('login')}?next={reverse('teams:join', args=[token])}")
    return render(request, "teams/join.html", context)


def _invalid(request: HttpRequest, exc: services.InvitationError) -> HttpResponse:
    status = 404 if exc.reason == "unknown" else 403 if exc.reason == "wrong_account" else 410
    return render(request, "teams/join_invalid.html", {"error": exc}, status=status)


def _joined(request: HttpRequest, membership: Any, created: bool) -> HttpResponse:
    request.session[SESSION_KEY] = membership.team_id
    if created:
        messages.success(request, f"Welcome to {membership.team.name}. You joined as {membership.get_role_display()}.")
    else:
        messages.info(request, f"You were already in {membership.team.name} ({membership.get_role_display()}).")
    return redirect("deployments:dashboard")


# --- members ------------------------------------------------------------------------------------


@require_POST
@team_required(Perm.MANAGE_MEMBERS)
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = selectors.team_member(team=request.team, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        message, level = "Choose one of the roles.", "error"
    else:
        try:
            membership = services.member_change_role(
                membership=membership, actor=request.user, role=form.cleaned_data["role"]
            )
        except ValidationError as exc:
            message, level = exc.messages[0], "error"
        else:
            message, level = f"{membership.user.get_username()} is now {membership.get_role_display()}.", "success"
    if request.htmx:
        # The actor may have just changed their own role: draw the row with what they may do now.
        request.membership = selectors.membership_for(user=request.user, team_id=request.team.pk)
        membership.refresh_from_db()
        return _row(request, membership, message, level)
    getattr(messages, level)(request, message)
    return redirect("teams:detail")


@require_POST
@team_required(Perm.MANAGE_MEMBERS)
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    membership = selectors.team_member(team=request.team, pk=pk)
    name = membership.user.get_username()
    try:
        services.member_remove(membership=membership, actor=request.user)
    except ValidationError as exc:
        if request.htmx:
            return _row(request, membership, exc.messages[0], "error")
        messages.error(request, exc.messages[0])
        return redirect("teams:detail")
    if request.htmx:
        return _toast(HttpResponse(""), f"Removed {name} from the team.")
    messages.success(request, f"Removed {name} from the team.")
    return redirect("teams:detail")


@require_POST
@team_required()
def team_leave(request: HttpRequest) -> HttpResponse:
    team = request.team
    try:
        services.member_leave(team=team, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("teams:detail")
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"You left {team.name}.")
    return redirect("deployments:dashboard")


# --- the owner's settings -----------------------------------------------------------------------


def _settings(request: HttpRequest, **forms: Any) -> HttpResponse:
    context = {
        "rename_form": forms.get("rename_form") or RenameTeamForm(initial={"name": request.team.name}),
        "transfer_form": forms.get("transfer_form") or TransferForm(team=request.team, me=request.membership),
        "delete_form": forms.get("delete_form") or DeleteTeamForm(),
    }
    return render(request, "teams/settings.html", context)


@require_GET
@team_required(Perm.MANAGE_TEAM)
def team_settings(request: HttpRequest) -> HttpResponse:
    return _settings(request)


@require_POST
@team_required(Perm.MANAGE_TEAM)
def team_rename(request: HttpRequest) -> HttpResponse:
    form = RenameTeamForm(request.POST)
    if form.is_valid():
        try:
            team = services.team_rename(team=request.team, actor=request.user, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("name", exc.messages[0])
        else:
            messages.success(request, f"The team is now called “{team.name}”.")
            return redirect("teams:settings")
    return _settings(request, rename_form=form)


@require_POST
@team_required(Perm.MANAGE_TEAM)
def team_transfer(request: HttpRequest) -> HttpResponse:
    form = TransferForm(request.POST, team=request.team, me=request.membership)
    if form.is_valid():
        try:
            to = services.team_transfer_ownership(team=request.team, actor=request.user, to=form.cleaned_data["member"])
        except ValidationError as exc:
            form.add_error("member", exc.messages[0])
        else:
            messages.success(request, f"{to.user.get_username()} now owns {request.team.name}; you are an admin.")
            return redirect("teams:detail")
    return _settings(request, transfer_form=form)


@require_POST
@team_required(Perm.MANAGE_TEAM)
def team_delete(request: HttpRequest) -> HttpResponse:
    form = DeleteTeamForm(request.POST)
    if form.is_valid():
        name = request.team.name
        try:
            services.team_delete(team=request.team, actor=request.user, confirm_name=form.cleaned_data["confirm"])
        except ValidationError as exc:
            form.add_error("confirm", exc.messages[0])
        else:
            request.session.pop(SESSION_KEY, None)
            messages.success(request, f"Deleted the team “{name}”.")
            return redirect("deployments:dashboard")
    return _settings(request, delete_form=form)


# --- any logged-in person -----------------------------------------------------------------------


@require_POST
@login_required
def team_switch(request: HttpRequest) -> HttpResponse:
    team_id = request.POST.get("team")
    team_pk = plain_int(team_id)
    membership = selectors.membership_for(user=request.user, team_id=team_pk) if team_pk is not None else None
    if membership is not None and str(membership.team_id) == team_id:
        request.session[SESSION_KEY] = membership.team_id
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return HttpResponseRedirect(target)  # a URL, never a view name (redirect() would try "123" as one)


@require_http_methods(["GET", "POST"])
@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
        request.session[SESSION_KEY] = team.pk
        return redirect("deployments:dashboard")
    return render(request, "teams/create.html", {"form": form})
