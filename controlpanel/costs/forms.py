from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

MAX_RANGE_DAYS = 366


class RangeForm(forms.Form):
    """The Costs page's chosen range: whole UTC days, ``start`` to ``end`` inclusive."""

    start = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "A date, like 2026-12-01."},
    )
    end = forms.DateField(
        label="To (inclusive)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "A date, like 2026-12-31."},
    )

    def clean(self) -> dict:
        data = super().clean()
        today = timezone.now().astimezone(dt.UTC).date()
        start = data.get("start") or today.replace(day=1)
        end = data.get("end") or today
        if "start" in self.errors or "end" in self.errors:
            return data
        if end < start:
            self.add_error("end", "The end comes before the start.")
        elif (end - start).days >= MAX_RANGE_DAYS:
            self.add_error("end", f"At most {MAX_RANGE_DAYS} days at a time.")
        data["start"], data["end"] = start, end
        return data

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """``[start, end)`` as UTC datetimes (midnight of the day after ``end``)."""
        start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        begin = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        return begin, dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=1)
