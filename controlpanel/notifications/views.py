from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from controlpanel.notifications import selectors, services
from controlpanel.notifications.forms import ChannelForm, ChannelSettingsForm
from controlpanel.notifications.models import ChannelKind
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm


def _list(request: HttpRequest, form: ChannelForm | None = None, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "channels": selectors.team_channels(team=request.team),
        "form": form or ChannelForm(initial={"kind": ChannelKind.WEBHOOK}),
        **extra,
    }
    return render(request, "notifications/list.html", context, status=status)


@require_GET
@team_required(Perm.VIEW)
def channel_list(request: HttpRequest) -> HttpResponse:
    return _list(request)


@require_POST
@team_required(Perm.MANAGE_NOTIFICATIONS)
def channel_add(request: HttpRequest) -> HttpResponse:
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            channel, secret = services.channel_create(team=request.team, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if secret:
                # Shown once, on this answer only: never stored in the session or shown again.
                return _list(request, created=channel, secret=secret)
            messages.success(request, f"Added “{channel.name}”. Send a test to check it.")
            return redirect("notifications:detail", pk=channel.pk)
    return _list(request, form, status=422)


def _detail(request: HttpRequest, channel: Any, form: ChannelSettingsForm | None = None) -> HttpResponse:
    form = form or ChannelSettingsForm(initial={"events": channel.events, "enabled": channel.enabled})
    context = {"channel": channel, "form": form, "deliveries": selectors.channel_deliveries(channel=channel)}
    return render(request, "notifications/detail.html", context, status=422 if form.is_bound else 200)


@require_GET
@team_required(Perm.VIEW)
def channel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, selectors.team_channel(team=request.team, pk=pk))


@require_POST
@team_required(Perm.MANAGE_NOTIFICATIONS)
def channel_settings(request: HttpRequest, pk: int) -> HttpResponse:
    channel = selectors.team_channel(team=request.team, pk=pk)
    form = ChannelSettingsForm(request.POST)
    if not form.is_valid():
        return _detail(request, channel, form)
    was_failing = channel.is_failing
    services.channel_update(channel=channel, actor=request.user, **form.cleaned_data)
    if form.cleaned_data["enabled"] and was_failing:
        messages.success(request, f"“{channel.name}” is on again; its failure count starts over.")
    else:
        messages.success(request, f"Saved “{channel.name}”.")
    return redirect("notifications:detail", pk=channel.pk)


@require_POST
@team_required(Perm.MANAGE_NOTIFICATIONS)
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = selectors.team_channel(team=request.team, pk=pk)
    services.channel_send_test(channel=channel, actor=request.user)
    messages.success(request, "A test message is queued; the worker sends it within seconds. Its answer shows below.")
    return redirect("notifications:detail", pk=channel.pk)


@require_POST
@team_required(Perm.MANAGE_NOTIFICATIONS)
def channel_delete(request: HttpRequest, pk: int) -> HttpResponse:
    channel = selectors.team_channel(team=request.team, pk=pk)
    if request.POST.get("confirm") != channel.name:
        messages.error(request, f"Type the channel's name, “{channel.name}”, to delete it.")
        return redirect("notifications:detail", pk=channel.pk)
    name = channel.name
    services.channel_delete(channel=channel, actor=request.user)
    messages.success(request, f"Deleted “{name}”. Nothing more is sent to it.")
    return redirect("notifications:list")
