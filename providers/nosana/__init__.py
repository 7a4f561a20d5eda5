"""Nosana deployments, paid from credits with an API key: a package split by role.

- ``provider``: :class:`NosanaProvider`, every HTTP call and the lifecycle;
- ``rules``: the vendor's rules for a spec, one small check per section;
- ``schema``: the job definition's JSON Schema and the checks it cannot say;
- ``statuses``: the status table (one dict) and what jobs add to it;
- ``prices``: market prices, what a start reserves, what runs cost;
- ``errors``: the ``error_detail`` hook, reading Nosana's error bodies;
- ``mapping``: Nosana's JSON as ``Remote``, ``Offer``, log lines and events.

Contract: ``shared/vendor-apis/nosana.md`` (the deployment-manager source and the
generated schema of ``@nosana/api`` 2.1.8) and the seed
``shared/seeds/000_cd5f2f8cf4f11fc3.txt``; each module cites its own sources
([V] = read in source or schema, [D] = docs prose, [I] = inferred).

``__all__`` is the public surface: what the panel's form and twin
(``controlpanel/vendors/nosana/``) may import. Everything else is the package's own.
"""

from __future__ import annotations

from providers.nosana.provider import NosanaProvider
from providers.nosana.rules import CRON_RE, NAME_MAX, STRATEGIES, STRATEGY_LABELS, TIMEOUT_MIN
from providers.nosana.schema import EXPOSE_TYPES, JOB_DEFINITION_SCHEMA, JOB_DEFINITION_VERSION
from providers.nosana.statuses import STATUS_TABLE

__all__ = [
    "CRON_RE",
    "EXPOSE_TYPES",
    "JOB_DEFINITION_SCHEMA",
    "JOB_DEFINITION_VERSION",
    "NAME_MAX",
    "STATUS_TABLE",
    "STRATEGIES",
    "STRATEGY_LABELS",
    "TIMEOUT_MIN",
    "NosanaProvider",
]
