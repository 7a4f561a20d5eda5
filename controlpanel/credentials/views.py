from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from controlpanel.credentials import services
from controlpanel.credentials.forms import AccountForm, RenameForm, RotateForm
from controlpanel.credentials.selectors import (
    team_account,
    team_account_with_dependents,
    team_accounts,
    with_dependents,
)
from controlpanel.deployments.services import account_request_refresh
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm


def _row(
    request: HttpRequest, account: Any, *, message: str = "", level: str = "success", form: Any = None
) -> HttpResponse:
    account = team_account_with_dependents(team=request.team, pk=account.pk)  # for the delete confirmation
    response = render(request, "credentials/_row.html", {"account": account, "row_form": form})
    if message:
        trigger_client_event(response, "toast", {"message": message, "level": level})
    return response


@require_GET
@team_required()
def key_list(request: HttpRequest) -> HttpResponse:
    accounts = with_dependents(team_accounts(team=request.team))
    return render(request, "credentials/list.html", {"accounts": accounts})


@require_http_methods(["GET", "POST"])
@team_required(Perm.MANAGE_KEYS)
def key_add(request: HttpRequest) -> HttpResponse:
    form = AccountForm(request.POST or None, team=request.team, initial={"vendor": request.GET.get("vendor")})
    if request.method == "POST" and form.is_valid():
        account = services.account_create(team=request.team, actor=request.user, **form.cleaned_data)
        messages.success(request, f"Saved “{account.label}”. Checking it with {account.get_vendor_display()} now.")
        return redirect("credentials:list")
    return render(request, "credentials/add.html", {"form": form})


@require_GET
@team_required()
def key_row(request: HttpRequest, pk: int) -> HttpResponse:
    """The key's row, polled while a verification is under way."""
    return _row(request, team_account(team=request.team, pk=pk))


@require_POST
@team_required(Perm.MANAGE_KEYS)
def key_verify(request: HttpRequest, pk: int) -> HttpResponse:
    account = services.account_request_verify(account=team_account(team=request.team, pk=pk), actor=request.user)
    return _row(request, account, message=f"Checking “{account.label}”…", level="info")


@require_POST
@team_required(Perm.MANAGE_KEYS)
def key_rename(request: HttpRequest, pk: int) -> HttpResponse:
    account = team_account(team=request.team, pk=pk)
    form = RenameForm(request.POST, account=account)
    if not form.is_valid():
        return _row(request, account, message=form.errors["label"][0], level="error", form=form)
    account = services.account_rename(account=account, actor=request.user, label=form.cleaned_data["label"])
    return _row(request, account, message="Renamed.")


@require_POST
@team_required(Perm.MANAGE_KEYS)
def key_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    account = team_account(team=request.team, pk=pk)
    form = RotateForm(request.POST, account=account)
    if not form.is_valid():
        return _row(request, account, message=form.errors["api_key"][0], level="error", form=form)
    account = services.account_rotate(account=account, actor=request.user, api_key=form.cleaned_data["api_key"])
    vendor = account.get_vendor_display()
    message = f"Checking the new key {account.pending_masked_key} with {vendor}; {account.masked_key} stays in use until then."
    return _row(request, account, message=message, level="info")


@require_POST
@team_required(Perm.MANAGE_KEYS)
def key_delete(request: HttpRequest, pk: int) -> HttpResponse:
    account = team_account(team=request.team, pk=pk)
    try:
        services.account_delete(account=account, actor=request.user)
    except ValidationError as exc:
        if request.htmx:
            return _row(request, account, message=exc.messages[0], level="error")
        messages.error(request, exc.messages[0])
        return redirect("credentials:list")
    if request.htmx:
        response = HttpResponse("")
        return trigger_client_event(response, "toast", {"message": f"Deleted “{account.label}”.", "level": "success"})
    messages.success(request, f"Deleted “{account.label}”.")
    return redirect("credentials:list")


@require_POST
@team_required()
def key_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Refresh now": the account is polled on the next sweep (within a couple of seconds)."""
    account = team_account(team=request.team, pk=pk)
    account_request_refresh(account=account, actor=request.user)
    message = f"Asking {account.get_vendor_display()} about “{account.label}” now."
    if request.htmx:
        return trigger_client_event(HttpResponse(status=204), "toast", {"message": message, "level": "info"})
    messages.info(request, message)
    return redirect("deployments:dashboard")
