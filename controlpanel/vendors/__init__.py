"""The Django side of each vendor, one folder per registry row (providers/registry.py).

``controlpanel/vendors/<slug>/`` holds:

- ``form.py``: ``FORM``, the vendor's deployment form (a ``VendorDeploymentForm``);
- ``twin.py``: ``urlpatterns``, the sandbox's stand-in for the vendor's API, mounted
  under ``/sandbox/<slug>/``;
- ``demo.py``: ``DEMO_SPEC``, the deployment ``make run``'s demo team starts with (the
  vendor's own documented example) and that the benchmarks and tests reuse;
- ``tests/``: the form, twin and panel tests of that vendor.

Nothing else in the panel names a vendor: it asks these functions.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from providers.registry import SLUGS, vendor

if TYPE_CHECKING:
    from controlpanel.deployments.forms.base import VendorDeploymentForm


def vendor_module(slug: str, part: str) -> ModuleType:
    vendor(slug)  # an unknown slug is a LookupError, not an ImportError
    return importlib.import_module(f"controlpanel.vendors.{slug}.{part}")


def form_class(slug: str) -> type[VendorDeploymentForm]:
    form: type[VendorDeploymentForm] = vendor_module(slug, "form").FORM
    return form


def twin_urlpatterns(slug: str) -> list[Any]:
    patterns: list[Any] = vendor_module(slug, "twin").urlpatterns
    return patterns


def demo_spec(slug: str) -> dict[str, Any]:
    spec: dict[str, Any] = vendor_module(slug, "demo").DEMO_SPEC
    return dict(spec)


def demo_specs() -> dict[str, dict[str, Any]]:
    return {slug: demo_spec(slug) for slug in SLUGS}
