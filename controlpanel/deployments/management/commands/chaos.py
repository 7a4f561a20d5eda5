"""Exactly-once under faults and crashes: ``manage.py chaos --deployments N --seed S``.

A throwaway database, a private Redis, the twins over a real socket with faults on, real
worker and beat processes SIGKILLed at random, simulated users on all five vendors; it
stops by itself and ends with one JSON line. ``_chaos.py`` says what runs and what each
figure counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from controlpanel.deployments.management.commands._chaos import run_chaos


class Command(BaseCommand):
    help = "Create, stop and delete deployments on all five twins under faults and worker kills; compare at the end."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--deployments", type=int, default=40, help="creates the users confirm, over all vendors")
        parser.add_argument("--seed", type=int, default=1, help="the run's random choices (faults draw their own)")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (and one beat)")
        parser.add_argument("--kills", type=int, default=12, help="at least this many SIGKILLs of workers or beat")
        parser.add_argument(
            "--settle",
            type=float,
            help="seconds, after the faults end, for the panel to finish (default: 90, or 0.6 per deployment if more)",
        )
        parser.add_argument("--logs", type=Path, help="copy the workers' and beat's logs into this folder")
        parser.add_argument(
            "--fail", action="store_true", help="exit non-zero when a duplicate, loss, stuck or wrong row is found"
        )

    def handle(
        self,
        *args: Any,
        deployments: int,
        seed: int,
        workers: int,
        kills: int,
        settle: float | None,
        fail: bool,
        logs: Path | None,
        **options: Any,
    ) -> None:
        if settle is None:
            settle = max(90.0, 0.6 * deployments)
        if workers < 1 or kills < 0 or settle < 0:
            raise CommandError("--workers must be at least 1; --kills and --settle at least 0")
        summary = run_chaos(
            self.stdout, deployments=deployments, seed=seed, workers=workers, kills=kills, settle=settle, logs=logs
        )
        bad = {k: summary[k] for k in ("duplicates", "lost", "stuck", "wrong_state", "unexplained") if summary[k]}
        if fail and bad:
            raise CommandError(f"chaos found: {bad}")
