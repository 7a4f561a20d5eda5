from __future__ import annotations

from typing import Any

from django import forms

from providers import get_provider_class
from providers.base import SpecError


class ScaleForm(forms.Form):
    """New replica counts; the vendor's rules decide what is allowed. A vendor asks for
    bounds (min/max) or for one count (``Provider.scale_fields``)."""

    min_replicas = forms.IntegerField(label="Minimum replicas")
    max_replicas = forms.IntegerField(label="Maximum replicas", required=False)
    replicas = forms.IntegerField(label="Replicas")

    def __init__(self, *args: Any, vendor: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider_class = get_provider_class(vendor)
        wanted = self.provider_class.scale_fields
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            return self.provider_class.validate_scale({k: v for k, v in data.items() if v is not None})
        except SpecError as exc:
            for field, messages in exc.fields.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
            return data
