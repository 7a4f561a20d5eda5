"""The shared form machinery (``base``, ``actions``, ``dashboard``). Each vendor's own
form is ``controlpanel/vendors/<vendor>/form.py``; ``form_class_for`` finds it."""

from __future__ import annotations

from controlpanel.deployments.forms.base import VendorDeploymentForm
from controlpanel.vendors import form_class


def form_class_for(vendor: str) -> type[VendorDeploymentForm]:
    return form_class(vendor)
