"""Panel time for limits: ``PANEL_TIME_SCALE`` makes an hour pass in 3600/scale seconds, so a
test can run a 2-hour time limit in seconds through a real worker (as the sandbox's
seconds-per-minute does for Nosana jobs). 1 in production."""

from __future__ import annotations

import datetime as dt

from django.conf import settings


def hours(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value * 3600 / float(settings.PANEL_TIME_SCALE))


def minutes(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=value * 60 / float(settings.PANEL_TIME_SCALE))
