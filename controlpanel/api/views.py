"""The API tokens page, in the person's own menu: their tokens in every team."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from controlpanel.api import selectors, services
from controlpanel.api.forms import TokenForm


def _team(request: HttpRequest):
    membership = request.get_membership()  # type: ignore[attr-defined]
    return membership.team if membership else None


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """List, and make a token (its value shown on this one answer only)."""
    new_token = ""
    if request.method == "POST":
        form = TokenForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                token, new_token = services.api_token_create(
                    user=request.user,
                    team=form.cleaned_data["team"],
                    name=form.cleaned_data["name"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                form = TokenForm(user=request.user, current_team=_team(request))
                context = {"form": form, "tokens": selectors.user_tokens(user=request.user)}
                context.update(new_token=new_token, new_token_row=token)
                response = render(request, "api/tokens.html", context)
                response["Cache-Control"] = "no-store"  # the token is on this page once
                return response
    else:
        form = TokenForm(user=request.user, current_team=_team(request))
    return render(request, "api/tokens.html", {"form": form, "tokens": selectors.user_tokens(user=request.user)})


@login_required
@require_POST
def token_revoke(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("token", "")
    if not raw.isdigit():
        raise Http404("No such token")
    token = selectors.user_token(user=request.user, pk=int(raw))
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Revoked “{token.name}”: it stops working at once.")
    return redirect("api:tokens")
