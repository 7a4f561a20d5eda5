"""Novita AI GPU instances (API v1): one container on 1–8 GPUs of a product, with
start, stop, restart, edit (ports, disk) and upgrade (image, env, command, volumes).

A package split by role, like saleor's payment gateways:

- ``provider``: :class:`NovitaProvider`, every HTTP call and the lifecycle;
- ``fields``: the create body's fields and limits, the ``ports`` string;
- ``rules``: the create body's rules, one check per section, and the product's;
- ``updates``: what edit and upgrade can change, and their bodies;
- ``statuses``: the status table, its overlays and the action gates;
- ``prices``: money units, estimates and upfront charges;
- ``mapping``: Novita's JSON as Remotes, Offers, templates and specs;
- ``errors``: the ``error_detail`` hook (error names, the field a message names);
- ``logs``: reading the log streams without the key.

What the panel's Django side (the vendor's form and twin) may use is listed in
``__all__``; the rest is the adapter's own.
"""

from __future__ import annotations

from providers.novita.fields import (
    AUTO_RENEW_MONTHS,
    BILLING_LABELS,
    BILLING_MODES,
    DEFAULT_MOUNT_POINT,
    ENVS_MAX,
    FIXED_FIELDS,
    GPU_NUM,
    MAX_PORTS_AND_TOOLS,
    PORT_RANGE,
    PORT_TYPES,
    ROOTFS,
    billing_mode,
    format_ports,
    parse_ports,
)
from providers.novita.prices import gpu_count, monthly_price, unit_price
from providers.novita.provider import NovitaProvider

__all__ = [
    "AUTO_RENEW_MONTHS",
    "BILLING_LABELS",
    "BILLING_MODES",
    "DEFAULT_MOUNT_POINT",
    "ENVS_MAX",
    "FIXED_FIELDS",
    "GPU_NUM",
    "MAX_PORTS_AND_TOOLS",
    "PORT_RANGE",
    "PORT_TYPES",
    "ROOTFS",
    "NovitaProvider",
    "billing_mode",
    "format_ports",
    "gpu_count",
    "monthly_price",
    "parse_ports",
    "unit_price",
]
