"""The one table of vendors. Everything that lists vendors derives from ``VENDORS``.

A row names the vendor once: its slug (stored in the database), the name people read,
its colour on the dashboard, and where its adapter lives. The Django side of a vendor
(form, twin, demo spec) lives in ``controlpanel/vendors/<slug>/`` by convention, so the
row does not repeat it. Adding a vendor is a row here plus its two folders; see
CONTRIBUTING.md.

Adapters are imported on first use, so a broken vendor module cannot stop the others
from loading (healthchecks' TRANSPORTS table works the same way).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.base import Provider


@dataclass(frozen=True)
class VendorInfo:
    slug: str  # stored in the database and in URLs: never change one
    display_name: str
    colour: str  # the dashboard's dot and badge, a CSS colour
    provider: str  # dotted path of the Provider class


VENDORS: tuple[VendorInfo, ...] = (
    VendorInfo("nosana", "Nosana", "#10b981", "providers.nosana.NosanaProvider"),
    VendorInfo("together", "Together AI", "#0f6fff", "providers.together.TogetherProvider"),
    VendorInfo("replicate", "Replicate", "#f43f5e", "providers.replicate.ReplicateProvider"),
    VendorInfo("fluence", "Fluence", "#a855f7", "providers.fluence.FluenceProvider"),
    VendorInfo("novita", "Novita AI", "#f59e0b", "providers.novita.NovitaProvider"),
)

BY_SLUG: dict[str, VendorInfo] = {v.slug: v for v in VENDORS}
SLUGS: tuple[str, ...] = tuple(BY_SLUG)


def vendor(slug: str) -> VendorInfo:
    try:
        return BY_SLUG[slug]
    except KeyError:
        raise LookupError(f"no vendor called {slug!r}") from None


def vendor_choices() -> list[tuple[str, str]]:
    """``(slug, display name)`` pairs, for Django's ``choices`` (a callable there, so a
    new vendor needs no migration)."""
    return [(v.slug, v.display_name) for v in VENDORS]


@cache
def get_provider_class(slug: str) -> type[Provider]:
    module_name, class_name = vendor(slug).provider.rsplit(".", 1)
    cls: type[Provider] = getattr(importlib.import_module(module_name), class_name)
    return cls
