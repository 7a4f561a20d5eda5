"""Fluence GPU Cloud: GPU containers, VMs and bare metal rented by the hour from plans.

A package split by role, as saleor keeps a payment gateway:

- ``provider``: :class:`FluenceProvider`, every call to the vendor and the lifecycle;
- ``paths``: the three kinds, their collections, and the panel's ``external_id``;
- ``rules``: the spec's rules, small section checks composed by ``check_spec``;
- ``bodies``: the create and update bodies, and what an update may not change;
- ``statuses``: the status table (one dict) and what a detail answer adds;
- ``gates``: why Fluence would refuse an action now;
- ``prices``: a plan's price and the 3 hours of rent a deploy moves;
- ``errors``: the ``error_detail`` hook's reading of Fluence's error bodies;
- ``mapping`` and ``catalog``: Fluence's JSON as connection details, balance, events, offers.

The spec this adapter takes is Fluence's create body exactly as documented, plus one
key of ours, ``kind`` (``container`` | ``vm`` | ``baremetal``): it picks the path
(``/gpu/instances/``, ``/gpu/instances/vms``, ``/gpu/instances/baremetal``) and is
removed before sending. Contract: ``shared/vendor-apis/fluence.md`` and the seed
``shared/seeds/003_e6650c0f53784ee2.txt``.

``__all__`` is the public surface: what the panel's form and tests may import. Forms
validate and price through :class:`FluenceProvider`'s class methods; the rule constants
here give them choices and limits.
"""

from __future__ import annotations

from providers.fluence.paths import BAREMETAL, CONTAINER, KIND_LABELS, KINDS, VM
from providers.fluence.provider import FluenceProvider
from providers.fluence.rules import (
    DEFAULT_PROTOCOL,
    ENV_MAX,
    EXPOSE_MAX,
    EXPOSE_MIN,
    HTTP_PORT,
    IMAGE_MAX,
    NAME_MAX,
    NAME_RULE,
    PROTOCOLS,
    REGISTRY_HOSTS,
    RESERVED_ENV,
    STARTUP_COMMAND_MAX,
)

__all__ = [
    "BAREMETAL",
    "CONTAINER",
    "DEFAULT_PROTOCOL",
    "ENV_MAX",
    "EXPOSE_MAX",
    "EXPOSE_MIN",
    "HTTP_PORT",
    "IMAGE_MAX",
    "KINDS",
    "KIND_LABELS",
    "NAME_MAX",
    "NAME_RULE",
    "PROTOCOLS",
    "REGISTRY_HOSTS",
    "RESERVED_ENV",
    "STARTUP_COMMAND_MAX",
    "VM",
    "FluenceProvider",
]
