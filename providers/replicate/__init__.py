"""Replicate deployments: a model version kept on your own autoscaled instances.

Contract: ``shared/vendor-apis/replicate.md`` and the seed
``shared/seeds/002_0d69ab0831111b63.txt``. The spec this adapter takes *is* the
create body, ``{name, model, version, hardware, min_instances, max_instances}``
(all six required [V]); ``validate`` enforces the rules the notes give, choosing the
strict reading where they are marked [I].

Replicate has no deployment status, no instance counts and no logs [V]. The state
shown in the panel is *derived* (notes §3): from ``min_instances`` and from the
account's recent predictions (``GET /predictions``, read once per ``list_remotes()``,
matched to deployments by their ``deployment`` field). ``Remote.message`` always says
so and why, e.g. "Replicate reports no status; derived: 1 instance kept warm
(min_instances 1)".

The package, by role:

- ``provider.py``: :class:`ReplicateProvider`, every HTTP call and the lifecycle;
- ``rules.py``: the spec and scale rules, one small check per section;
- ``statuses.py``: the derived status table and how a row is chosen; the delete gate;
- ``prices.py``: the maintained hardware price table;
- ``mapping.py``: Replicate's JSON as Remote, Offer, VendorEvent and AccountInfo;
- ``errors.py``: the ``error_detail`` hook (RFC 7807 problem details).

Code outside the package (the form, the twin) uses only the names below.
"""

from __future__ import annotations

from providers.replicate.prices import HARDWARE_PRICES, PRICES_SOURCE, Hardware
from providers.replicate.provider import ReplicateProvider
from providers.replicate.rules import CREATE_FIELDS, MAX_INSTANCES_LIMIT, MIN_INSTANCES_LIMIT, NAME_MAX

__all__ = [
    "CREATE_FIELDS",
    "HARDWARE_PRICES",
    "MAX_INSTANCES_LIMIT",
    "MIN_INSTANCES_LIMIT",
    "NAME_MAX",
    "PRICES_SOURCE",
    "Hardware",
    "ReplicateProvider",
]
