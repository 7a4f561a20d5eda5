from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time a background process said it was alive (read by /healthz).

    ``kind`` is ``worker`` (written by every Celery worker on a timer) or ``beat``
    (written by the scheduled sweep, so it proves beat *and* a worker are working).
    """

    kind = models.CharField(max_length=20)
    hostname = models.CharField(max_length=255)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "hostname"], name="uniq_heartbeat_kind_host")]

    def __str__(self) -> str:
        return f"{self.kind}@{self.hostname}"
