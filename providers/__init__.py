"""Vendor adapters. ``get_provider_class("together")`` is the registry's one door.

The registry imports each adapter on first use, so a broken vendor module cannot
stop the others from loading.
"""

from __future__ import annotations

import importlib

from providers.base import Provider

PROVIDERS: dict[str, str] = {
    "nosana": "providers.nosana.NosanaProvider",
    "together": "providers.together.TogetherProvider",
    "replicate": "providers.replicate.ReplicateProvider",
    "fluence": "providers.fluence.FluenceProvider",
    "novita": "providers.novita.NovitaProvider",
}


def get_provider_class(name: str) -> type[Provider]:
    try:
        dotted = PROVIDERS[name]
    except KeyError:
        raise LookupError(f"no provider called {name!r}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), class_name)
