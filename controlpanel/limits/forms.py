from __future__ import annotations

from decimal import Decimal

from django import forms

from controlpanel.limits.models import ExpiryAction

MAX_TTL_HOURS = 24 * 90
MAX_IDLE_MINUTES = 60 * 24 * 7


class TeamPolicyForm(forms.Form):
    approval_above_per_hour = forms.DecimalField(
        label="Require approval above ($ per hour)",
        required=False,
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        help_text="A deployer's new deployment estimated above this waits for an admin. Empty: no approvals.",
    )
    default_ttl_hours = forms.IntegerField(
        label="Default time limit (hours)",
        required=False,
        min_value=1,
        max_value=MAX_TTL_HOURS,
        help_text="Every new deployment gets this time limit; each can be changed on its page. Empty: none.",
    )
    default_ttl_action = forms.ChoiceField(label="When it is reached", choices=ExpiryAction.choices)
    idle_minutes = forms.IntegerField(
        label="Scale idle deployments to zero after (minutes)",
        required=False,
        min_value=1,
        max_value=MAX_IDLE_MINUTES,
        help_text=(
            "Where the vendor reports use (Replicate): a deployment kept warm (min instances 1 or more) "
            "with no prediction for this long is scaled to zero, keeping its maximum, so the next "
            "request starts it again. Each deployment can override it on its page. Empty: never."
        ),
    )
    monthly_budget = forms.DecimalField(
        label="Monthly budget ($)",
        required=False,
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        help_text="All deployments together, per UTC month. At 80 % the team is warned; at 100 % new deployments are refused. Empty: no budget.",
    )
    price_ceiling_per_hour = forms.DecimalField(
        label="Price ceiling per deployment ($ per hour)",
        required=False,
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        help_text="No deployment estimated above this (or with no estimate) is sent. Empty: no ceiling.",
    )
    budget_stops_running = forms.BooleanField(
        label="When the budget is used up, stop running deployments too",
        required=False,
        help_text="Each is stopped like a person's Stop, on its timeline and the audit log. Fluence has no stop: its deployments are left running.",
    )


class TimeLimitForm(forms.Form):
    hours = forms.DecimalField(
        label="Hours from now",
        min_value=Decimal("0.1"),
        max_value=MAX_TTL_HOURS,
        max_digits=6,
        decimal_places=1,
        error_messages={"required": "How many hours from now?"},
    )
    action = forms.ChoiceField(label="Then", choices=ExpiryAction.choices)


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label="Why", max_length=500, error_messages={"required": "Say why, so the deployer knows what to change."}
    )


class IdleRuleForm(forms.Form):
    rule = forms.ChoiceField(
        label="Idle rule",
        choices=[("team", "The team's default"), ("never", "Never scale it to zero"), ("minutes", "After")],
    )
    minutes = forms.IntegerField(
        label="Minutes without work",
        required=False,
        min_value=1,
        max_value=MAX_IDLE_MINUTES,
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("rule") == "minutes" and data.get("minutes") is None and "minutes" not in self.errors:
            self.add_error("minutes", "How many minutes without a prediction?")
        return data

    def minutes_value(self) -> int | None:
        """What the service takes: ``None`` the team's default, 0 never, N minutes."""
        rule = self.cleaned_data["rule"]
        return None if rule == "team" else 0 if rule == "never" else self.cleaned_data["minutes"]
