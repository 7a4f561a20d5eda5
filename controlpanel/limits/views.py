from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from controlpanel.deployments import selectors as deployment_selectors
from controlpanel.deployments.models import Deployment
from controlpanel.deployments.states import State
from controlpanel.limits import services
from controlpanel.limits.forms import IdleRuleForm, RefuseForm, TeamPolicyForm, TimeLimitForm
from controlpanel.limits.rules import team_policy
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm


@require_http_methods(["GET", "POST"])
@team_required(Perm.VIEW)
def team_limits(request: HttpRequest) -> HttpResponse:
    policy = team_policy(request.team)
    initial = {
        "approval_above_per_hour": policy.approval_above_per_hour,
        "default_ttl_hours": policy.default_ttl_hours,
        "default_ttl_action": policy.default_ttl_action,
        "idle_minutes": policy.idle_minutes,
        "monthly_budget": policy.monthly_budget,
        "price_ceiling_per_hour": policy.price_ceiling_per_hour,
        "budget_stops_running": policy.budget_stops_running,
    }
    form = TeamPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not request.membership.can(Perm.APPROVE):
            raise PermissionDenied("Only admins and owners change the team's limits.")
        if form.is_valid():
            services.team_policy_update(team=request.team, actor=request.user, **form.cleaned_data)
            messages.success(request, "Saved the team's limits. They apply to deployments created from now on.")
            return redirect("limits:team")
    from controlpanel.costs.rules import budget_view

    context = {"form": form, "budget": budget_view(team=request.team)}
    return render(request, "limits/team.html", context, status=422 if form.is_bound else 200)


@require_GET
@team_required(Perm.VIEW)
def approvals(request: HttpRequest) -> HttpResponse:
    waiting = (
        Deployment.objects.filter(team=request.team, state=State.AWAITING_APPROVAL)
        .select_related("account", "created_by")
        .order_by("state_changed_at")
    )
    return render(request, "limits/approvals.html", {"waiting": waiting, "refuse_form": RefuseForm()})


def _back(request: HttpRequest, deployment: Deployment) -> HttpResponse:
    if request.POST.get("next") == "approvals":
        return redirect("limits:approvals")
    return redirect("deployments:detail", pk=deployment.pk)


@require_POST
@team_required(Perm.APPROVE)
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = deployment_selectors.team_deployment(team=request.team, pk=pk)
    try:
        deployment = services.deployment_approve(deployment=deployment, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Approved {deployment.name}: it is queued for {deployment.get_vendor_display()}.")
    return _back(request, deployment)


@require_POST
@team_required(Perm.APPROVE)
def refuse(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = deployment_selectors.team_deployment(team=request.team, pk=pk)
    form = RefuseForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
        return _back(request, deployment)
    try:
        services.deployment_refuse(deployment=deployment, actor=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Refused {deployment.name}; nothing was sent to {deployment.get_vendor_display()}.")
    return _back(request, deployment)


@require_POST
@team_required(Perm.DEPLOY)
def time_limit(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = deployment_selectors.team_deployment(team=request.team, pk=pk)
    if request.POST.get("clear"):
        services.deployment_set_time_limit(deployment=deployment, actor=request.user, hours_from_now=None, action="")
        messages.success(request, f"{deployment.name} has no time limit now.")
        return redirect("deployments:detail", pk=deployment.pk)
    form = TimeLimitForm(request.POST)
    if form.is_valid():
        try:
            services.deployment_set_time_limit(
                deployment=deployment,
                actor=request.user,
                hours_from_now=float(form.cleaned_data["hours"]),
                action=form.cleaned_data["action"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Time limit of {deployment.name} set.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("deployments:detail", pk=deployment.pk)


@require_POST
@team_required(Perm.DEPLOY)
def idle_rule(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = deployment_selectors.team_deployment(team=request.team, pk=pk)
    form = IdleRuleForm(request.POST)
    if form.is_valid():
        try:
            deployment = services.deployment_set_idle_rule(
                deployment=deployment, actor=request.user, minutes=form.minutes_value()
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            words = services.idle_rule_words(deployment.idle_minutes, team=request.team)
            messages.success(request, f"Idle rule of {deployment.name}: {words}.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("deployments:detail", pk=deployment.pk)
