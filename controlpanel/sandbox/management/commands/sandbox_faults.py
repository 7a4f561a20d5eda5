"""Make the sandbox misbehave (or stop misbehaving), for demos, chaos tests and benchmarks.

manage.py sandbox_faults                        # show what is switched on
manage.py sandbox_faults together --error-rate 0.3 --latency-ms 200
manage.py sandbox_faults '*' --rate-limit-rate 0.1 --retry-after 5
manage.py sandbox_faults together --clear
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from controlpanel.sandbox.models import SandboxFault
from providers.registry import SLUGS

FIELDS = {
    "latency_ms": int,
    "error_rate": float,
    "rate_limit_rate": float,
    "retry_after_seconds": int,
    "timeout_rate": float,
    "timeout_seconds": float,
    "lost_response_rate": float,
}


class Command(BaseCommand):
    help = "Show or set the sandbox's switchable faults for one vendor, or '*' for all."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("vendor", nargs="?", choices=[*SLUGS, "*"], help=f"{', '.join(SLUGS)}, or '*'")
        parser.add_argument("--latency-ms", dest="latency_ms", type=int)
        parser.add_argument("--error-rate", dest="error_rate", type=float, help="share of requests answered 503")
        parser.add_argument("--rate-limit-rate", dest="rate_limit_rate", type=float, help="share answered 429")
        parser.add_argument("--retry-after", dest="retry_after_seconds", type=int)
        parser.add_argument("--timeout-rate", dest="timeout_rate", type=float, help="share that hang")
        parser.add_argument("--timeout-seconds", dest="timeout_seconds", type=float)
        parser.add_argument(
            "--lost-response-rate", dest="lost_response_rate", type=float, help="share done but answered 502"
        )
        parser.add_argument("--no-capacity", dest="no_capacity", action="store_true", default=None)
        parser.add_argument("--capacity", dest="no_capacity", action="store_false")
        parser.add_argument("--clear", action="store_true", help="remove this vendor's faults")

    def handle(self, *args: Any, vendor: str | None, clear: bool, **options: Any) -> None:
        if vendor is None:
            rows = SandboxFault.objects.order_by("vendor")
            if not rows:
                self.stdout.write("No sandbox faults are switched on.")
            for row in rows:
                values = ", ".join(f"{name}={getattr(row, name)}" for name in [*FIELDS, "no_capacity"])
                self.stdout.write(f"{row.vendor}: {values}")
            return
        if clear:
            deleted, _ = SandboxFault.objects.filter(vendor=vendor).delete()
            self.stdout.write(f"Cleared faults for {vendor}." if deleted else f"{vendor} had no faults.")
            return
        changes = {k: v for k, v in options.items() if k in (*FIELDS, "no_capacity") and v is not None}
        for name in ("error_rate", "rate_limit_rate", "timeout_rate", "lost_response_rate"):
            if name in changes and not 0 <= changes[name] <= 1:
                raise CommandError(f"--{name.replace('_', '-')} is a share between 0 and 1")
        row, _ = SandboxFault.objects.update_or_create(vendor=vendor, defaults=changes)
        self.stdout.write(
            f"Faults for {vendor}: " + ", ".join(f"{k}={getattr(row, k)}" for k in [*FIELDS, "no_capacity"])
        )
