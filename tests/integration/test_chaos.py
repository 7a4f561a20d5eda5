"""The chaos suite at a small size, as `make test` runs it: ``manage.py chaos`` in its own
process (its own throwaway database of the configured kind, its own redis-server, worker
and beat processes it SIGKILLs), and every figure of its last line checked.

It takes about a minute and a half on two cores; ``--settle`` bounds the wait for the panel
to finish once the faults end, so a regression shows as a count here, not a hang."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent.parent
DEPLOYMENTS = 20
KILLS = 10


def test_chaos_at_twenty_deployments_loses_duplicates_and_strands_nothing():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "controlpanel.settings_test"}
    command = [sys.executable, "manage.py", "chaos", "--deployments", str(DEPLOYMENTS), "--kills", str(KILLS)]
    command += ["--seed", "11", "--settle", "60"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400, check=False)
    output = done.stdout.strip()
    print(output)  # every line of the run, shown by pytest when an assertion fails
    assert done.returncode == 0, f"{output[-3000:]}\n{done.stderr[-3000:]}"
    summary = json.loads(output.splitlines()[-1])
    assert set(summary) == {
        "requested",
        "created_at_vendor",
        "duplicates",
        "lost",
        "stuck",
        "wrong_state",
        "unexplained",
        "mean_attempts",
        "kills",
        "redis_restarts",
        "seconds",
        "redis_used",
    }
    problems = {k: summary[k] for k in ("duplicates", "lost", "stuck", "wrong_state", "unexplained")}
    assert problems == dict.fromkeys(problems, 0), output[-4000:]
    assert summary["requested"] == DEPLOYMENTS
    # Each confirmed create made one resource at most; a few are deleted before they get there.
    assert 0 < summary["created_at_vendor"] <= DEPLOYMENTS
    assert summary["mean_attempts"] > 0
    assert summary["kills"] >= KILLS
    redis = shutil.which("redis-server") is not None
    assert (summary["redis_used"], summary["redis_restarts"]) == (redis, 1 if redis else 0)
