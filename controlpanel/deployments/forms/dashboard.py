"""The dashboard's filters, search, sort and page, read from the query string.

A value that is not valid (an old bookmark, a hand-edited URL) falls back to its
default instead of failing the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from controlpanel.credentials.models import Vendor
from controlpanel.deployments.selectors import SORTS
from controlpanel.deployments.states import State

PAGE_SIZE = 50
STATE_CHOICES = [("", "Any state"), ("active", "Active (not stopped or failed)")] + [
    (value, label) for value, label in State.choices if value != State.DELETED
]


@dataclass(frozen=True)
class DashboardQuery:
    vendor: str = ""
    state: str = ""
    account_id: int | None = None
    creator_id: int | None = None
    mine: bool = False
    query: str = ""
    sort: str = "age"
    descending: bool = True
    page: int = 1

    @property
    def filtered(self) -> bool:
        return bool(self.vendor or self.state or self.account_id or self.creator_id or self.mine or self.query)


class DashboardFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search by name", max_length=200)
    vendor = forms.ChoiceField(required=False, choices=[("", "All vendors"), *Vendor.choices])
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES)
    account = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Key")
    creator = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Created by")
    mine = forms.BooleanField(required=False, label="Only mine")
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS])
    dir = forms.ChoiceField(required=False, choices=[("asc", "asc"), ("desc", "desc")])
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, data: Any, *, accounts: Any, members: Any) -> None:
        super().__init__(data, auto_id="f-%s")
        self.fields["account"].choices = [("", "All keys"), *[(a.pk, str(a)) for a in accounts]]
        self.fields["creator"].choices = [("", "Anyone"), *[(m.user_id, m.user.get_username()) for m in members]]

    def query(self) -> DashboardQuery:
        self.is_valid()
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        sort = data.get("sort") or "age"
        default_dir = "desc" if sort in ("age", "price", "checked", "replicas") else "asc"
        return DashboardQuery(
            vendor=data.get("vendor") or "",
            state=data.get("state") or "",
            account_id=data.get("account"),
            creator_id=data.get("creator"),
            mine=bool(data.get("mine")),
            query=(data.get("q") or "").strip(),
            sort=sort,
            descending=(data.get("dir") or default_dir) == "desc",
            page=data.get("page") or 1,
        )
