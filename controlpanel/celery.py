"""The Celery application: configured from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlpanel.settings")

# PanelTask: a broker error while queueing after a commit is logged, never raised to the user.
app = Celery("controlpanel", task_cls="controlpanel.core.queueing:PanelTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _install_heartbeat() -> None:
    # Imported late: the bootstep touches models, so Django must be set up first.
    from controlpanel.core.heartbeat import HeartbeatStep

    app.steps["worker"].add(HeartbeatStep)


_install_heartbeat()
