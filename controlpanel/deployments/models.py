from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from controlpanel.deployments import cost, readable
from controlpanel.deployments.states import IN_MOTION, State
from providers.registry import vendor_choices


class Deployment(models.Model):
    """One deployment on one vendor account, as the panel knows it.

    ``spec`` is the vendor's own request body as the form built it; ``raw`` is the
    vendor's last answer. ``state`` changes only through ``deployment_transition``.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="deployments")
    account = models.ForeignKey(
        "credentials.ProviderAccount", null=True, on_delete=models.SET_NULL, related_name="deployments"
    )
    vendor = models.CharField(max_length=20, choices=vendor_choices)
    name = models.CharField(max_length=200)
    spec = models.JSONField(default=dict)

    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    state_changed_at = models.DateTimeField(default=timezone.now)
    vendor_state = models.CharField(max_length=100, blank=True)
    status_message = models.TextField(blank=True)
    # A vendor's 400/422 on submit or update, by spec path, to show on the form's fields.
    error_fields = models.JSONField(default=dict, blank=True)

    external_id = models.CharField(max_length=200, blank=True)
    endpoint_url = models.CharField(max_length=500, blank=True)
    endpoints = models.JSONField(default=list, blank=True)
    # How people reach it (SSH command, web terminal...), never passwords.
    connection = models.JSONField(default=dict, blank=True)
    replicas_ready = models.IntegerField(null=True, blank=True)
    replicas_desired = models.IntegerField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # List-first polling (services/refresh.py): when the vendor's detail answer was last
    # read (the list alone says less for some vendors), and a digest of the list row as it
    # was then, so a row the list shows changed gets its detail read at once.
    detail_checked_at = models.DateTimeField(null=True, blank=True)
    list_digest = models.CharField(max_length=64, blank=True)

    # Money: the estimate shown when it was submitted, the current burn, and the total.
    estimated_price_per_hour = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    price_per_hour = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    # The vendor's last reported price, kept while stopped (controlpanel.costs.PriceChange has each).
    vendor_price_per_hour = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    cost_accrued = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    cost_since = models.DateTimeField(null=True, blank=True)
    # This month's share of the cost (UTC months), for the dashboard's "spent this month".
    cost_month = models.DateField(null=True, blank=True)
    cost_month_accrued = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))

    # Submission bookkeeping (see tasks.submit_deployment_task).
    submit_task_id = models.CharField(max_length=64, blank=True)
    submit_attempts = models.PositiveIntegerField(default=0)
    submit_started_at = models.DateTimeField(null=True, blank=True)

    # An action a person asked for that a worker has not finished yet.
    pending_action = models.CharField(max_length=20, blank=True)
    pending_params = models.JSONField(default=dict, blank=True)
    pending_actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pending_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    # The row's worker attempts (submit or action), found from the database by the sweep
    # (services.sweeps). An attempt claims the row by a conditional UPDATE of
    # ``attempt_id``/``attempt_claimed_at``, so two never run on one row at once; a claim
    # older than the task's hard time limit is dead. ``next_attempt_at`` is when the row's
    # own chain means to try next (now, or a scheduled retry); the sweep re-sends only when
    # that is overdue by ``PANEL_STALE_WORK_SECONDS``.
    attempt_id = models.CharField(max_length=64, blank=True)
    attempt_claimed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    # A time limit: at ``expires_at`` the panel stops (or deletes) it, once (controlpanel.limits).
    expires_at = models.DateTimeField(null=True, blank=True)
    expiry_action = models.CharField(max_length=10, blank=True)  # "stop" or "delete"
    expiry_warned_at = models.DateTimeField(null=True, blank=True)
    # The idle rule (controlpanel.limits): minutes without work before a deployment kept warm
    # is scaled to zero; null follows the team's default, 0 never. ``idle_activity_at`` is the
    # latest use the sweep has seen (a prediction, a change of its bounds), kept past the
    # vendor's window of recent work.
    idle_minutes = models.PositiveIntegerField(null=True, blank=True)
    idle_activity_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="created_deployments"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["team", "state"], name="deployment_team_state"),
            models.Index(fields=["team", "-updated_at"], name="deployment_team_updated"),
            models.Index(fields=["team", "-created_at"], name="deployment_team_created"),
            models.Index(fields=["account", "state"], name="deployment_account_state"),
            models.Index(fields=["expires_at"], name="deployment_expires", condition=Q(expires_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=~Q(external_id="") & ~Q(state="deleted"),
                name="uniq_live_external_id_per_account",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_in_motion(self) -> bool:
        return self.state in IN_MOTION or bool(self.pending_action)

    @property
    def is_deleted(self) -> bool:
        return self.state == State.DELETED

    # What people read beside the state (controlpanel.deployments.readable).
    @property
    def vendor_words(self) -> str:
        return readable.vendor_words(self)

    @property
    def state_label(self) -> str:
        return readable.state_label(self)

    @property
    def is_leaving(self) -> bool:
        return readable.is_leaving(self)

    @property
    def cost_this_month(self) -> Decimal:
        """What it has cost since the 1st of this month (UTC), at the rates it ran at."""
        return cost.cost_this_month(
            month=self.cost_month,
            month_accrued=self.cost_month_accrued,
            price=self.price_per_hour,
            since=self.cost_since,
            now=timezone.now(),
        )

    @property
    def cost_so_far(self) -> Decimal:
        """Accrued cost plus the current rate since it last changed."""
        return cost.cost_so_far(
            accrued=self.cost_accrued, price=self.price_per_hour, since=self.cost_since, now=timezone.now()
        )


class EventKind(models.TextChoices):
    STATE = "state", "State change"
    ACTION = "action", "Action"
    ERROR = "error", "Error"
    INFO = "info", "Note"


class DeploymentEvent(models.Model):
    """One line of a deployment's timeline: a state change, an action asked for, an error."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)  # "alice", or "worker" for what the system did
    from_state = models.CharField(max_length=20, blank=True, choices=State.choices)
    to_state = models.CharField(max_length=20, blank=True, choices=State.choices)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["deployment", "-created_at"], name="event_deployment_created")]

    def __str__(self) -> str:
        if self.kind == EventKind.STATE:
            return f"{self.from_state} → {self.to_state}"
        return self.message[:80]


class LogSnapshot(models.Model):
    """The last lines fetched from the vendor's log endpoint, for the deployment page.

    Views never call vendors: opening or following the logs asks a worker to fetch
    (at most every couple of seconds) and shows what the last fetch brought.
    """

    deployment = models.OneToOneField(Deployment, on_delete=models.CASCADE, related_name="log_snapshot")
    lines = models.JSONField(default=list)
    # The vendor's own event history where it has one (Nosana jobs/events, Fluence events).
    events = models.JSONField(default=list)
    # Its revision history where the vendor keeps one (Together), newest first: what the
    # page's "Roll back" offers.
    revisions = models.JSONField(default=list, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"logs of {self.deployment}"


class IdempotencyKey(models.Model):
    """A token a create request carried, and the deployment it produced.

    Each render of a create form carries a fresh token (a REST API's ``Idempotency-Key``
    header is the same thing): a repeated or concurrent request with the same token gets
    the first one's deployment instead of a second, paid one. The unique constraint is
    the lock: of two racing inserts one wins, the other reads the winner's deployment.
    Kept for ``IDEMPOTENCY_TTL`` (services.submission), then deleted on a later create.
    The API's actions (stop, scale...) claim keys in the same table (``action`` set).
    """

    team = models.ForeignKey("teams.Team", on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=100)
    # Null only inside the transaction that claims the key and then creates the deployment.
    deployment = models.ForeignKey(Deployment, null=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # "" for a create; the action's name (stop, scale...) for a key an API action carried.
    action = models.CharField(max_length=20, blank=True)
    # The API's first answer to the request ({"status", "body", "request"}), given again to
    # a retry; null for a form's create (the form answers with the deployment's page).
    response = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "key"], name="uniq_idempotency_key_per_team")]

    def __str__(self) -> str:
        return f"{self.key[:8]}… → {self.deployment_id}"
