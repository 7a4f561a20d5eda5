"""Every write to deployments, one module per concern.

- ``transitions``: the one place ``state`` changes, events, copying the vendor's view on a row
- ``submission``: create, resubmit, the worker's submit, re-sending lost submissions
- ``refresh``: polling each account with one ``list()``, and provisioning deadlines
- ``sweeps``: claims on a row (one attempt at a time) and re-sending lost work from the database
- ``actions``: start/stop/restart/scale/update/delete/archive, asked for and carried out
- ``logs``: the logs card's fetch
- ``bulk``: one action on several deployments
- ``idempotency``: the API's ``Idempotency-Key`` on actions, in the create form's table

Vendor calls happen only here and only outside transactions: a row is locked in one
short transaction, the vendor is called with no lock held, and the answer is saved
in a second short transaction that re-reads the row.

Callers import from here (``from controlpanel.deployments.services import deployment_create``);
a test that replaces a name must patch the module that looks it up.
"""

from __future__ import annotations

from controlpanel.deployments.services.actions import (
    ACTION_STATES,
    AUDIT_FOR_ACTION,
    action_refusal,
    deployment_action_gave_up,
    deployment_request_action,
    deployment_run_action,
)
from controlpanel.deployments.services.bulk import BulkResult, deployment_bulk_action
from controlpanel.deployments.services.idempotency import (
    idempotency_action_claim,
    idempotency_earlier,
    idempotency_remember,
)
from controlpanel.deployments.services.logs import deployment_fetch_logs, deployment_request_logs
from controlpanel.deployments.services.refresh import (
    account_claim_due_refresh,
    account_refresh,
    account_request_refresh,
    refresh_sweep,
)
from controlpanel.deployments.services.submission import (
    deployment_attempt_retry_later,
    deployment_create,
    deployment_resubmit,
    deployment_submit,
    deployment_submit_gave_up,
    deployments_requeue_stale,
    new_idempotency_key,
)
from controlpanel.deployments.services.sweeps import (
    deployments_sweep_actions,
    deployments_sweep_due,
    deployments_sweep_submissions,
)
from controlpanel.deployments.services.transitions import MAX_MESSAGE, deployment_transition
from controlpanel.deployments.states import InvalidTransition

__all__ = [
    "ACTION_STATES",
    "AUDIT_FOR_ACTION",
    "MAX_MESSAGE",
    "BulkResult",
    "InvalidTransition",
    "account_claim_due_refresh",
    "account_refresh",
    "account_request_refresh",
    "action_refusal",
    "deployment_action_gave_up",
    "deployment_attempt_retry_later",
    "deployment_bulk_action",
    "deployment_create",
    "deployment_fetch_logs",
    "deployment_request_action",
    "deployment_request_logs",
    "deployment_resubmit",
    "deployment_run_action",
    "deployment_submit",
    "deployment_submit_gave_up",
    "deployment_transition",
    "deployments_requeue_stale",
    "deployments_sweep_actions",
    "deployments_sweep_due",
    "deployments_sweep_submissions",
    "idempotency_action_claim",
    "idempotency_earlier",
    "idempotency_remember",
    "new_idempotency_key",
    "refresh_sweep",
]
