"""Templates: the list, save from a vendor form, edit, delete. Thin: services do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from controlpanel.blueprints import selectors, services
from controlpanel.blueprints.builtins import BUILTINS
from controlpanel.blueprints.forms import TemplateEditForm
from controlpanel.teams.decorators import team_required
from controlpanel.teams.permissions import Perm
from providers.registry import SLUGS


@require_GET
@team_required()
def template_list(request: HttpRequest) -> HttpResponse:
    templates = list(selectors.team_templates(team=request.team))
    for template in templates:
        template.manageable = services.can_manage(template=template, actor=request.user)
    return render(request, "blueprints/list.html", {"templates": templates, "builtins": BUILTINS})


@require_POST
@team_required(Perm.DEPLOY)
def save(request: HttpRequest, vendor: str) -> HttpResponse:
    """The vendor form as filled so far, saved as a team template (secret values left out)."""
    from controlpanel.deployments.views import _build_form

    if vendor not in SLUGS:
        raise Http404("No such vendor")
    form = _build_form(request, vendor, request.POST)
    spec = form.spec if form.is_valid() else form.partial_spec()
    template, error = None, ""
    try:
        template = services.template_create(
            team=request.team,
            actor=request.user,
            name=request.POST.get("template_name", ""),
            description=request.POST.get("template_description", ""),
            vendor_slug=vendor,
            spec=spec,
        )
    except ValidationError as exc:
        error = " ".join(m for messages_ in exc.message_dict.values() for m in messages_)
    if not request.htmx:
        if template is not None:
            messages.success(request, f"Saved the template “{template.name}”.")
            return redirect("blueprints:list")
        messages.error(request, error)
        return redirect("deployments:create", vendor=vendor)
    return render(request, "blueprints/_saved.html", {"template": template, "error": error})


@require_http_methods(["GET", "POST"])
@team_required(Perm.DEPLOY)
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = selectors.team_template(team=request.team, pk=pk)
    if not services.can_manage(template=template, actor=request.user):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Only its author, admins and owners can change this template.")
    if request.method == "POST":
        form = TemplateEditForm(request.POST)
        if form.is_valid():
            try:
                services.template_update(
                    template=template,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Saved “{form.cleaned_data['name']}”.")
                return (
                    HttpResponseClientRedirect(reverse("blueprints:list"))
                    if request.htmx
                    else redirect("blueprints:list")
                )
    else:
        form = TemplateEditForm(initial={"name": template.name, "description": template.description})
    return render(request, "blueprints/edit.html", {"template": template, "form": form})


@require_POST
@team_required(Perm.DEPLOY)
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = selectors.team_template(team=request.team, pk=pk)
    services.template_delete(template=template, actor=request.user)
    messages.success(request, f"Deleted the template “{template.name}”.")
    return HttpResponseClientRedirect(reverse("blueprints:list")) if request.htmx else redirect("blueprints:list")
