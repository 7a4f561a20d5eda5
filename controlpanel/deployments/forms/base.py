"""What every vendor's deployment form shares.

A vendor form is a main Django form plus named formsets for repeated rows (env
vars, volumes, ports). ``is_valid()`` checks field types, builds the vendor's
request body with ``build_spec()``, then runs the vendor's own rules
(``Provider.validate``) and puts each ``SpecError`` message back on the field it
names. A vendor's 400/422 after submission arrives as the same spec paths and lands
on the same fields through ``add_spec_errors``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.forms.formsets import BaseFormSet
from django.urls import reverse
from django.utils.html import format_html

from controlpanel.core.text import plain_int
from controlpanel.credentials.models import KeyStatus, ProviderAccount
from providers import get_provider_class
from providers.base import Offer as OfferData
from providers.base import SpecError, ValidationContext

INDEX_PATH = re.compile(r"\[(\d+)\]")


def normalise_path(path: str) -> str:
    """``environment_variables[0].name`` and ``body.x`` read as ``environment_variables.0.name``."""
    path = INDEX_PATH.sub(r".\1", path or "")
    return path.removeprefix("body.")


MAX_POSTED_ROWS = 1000  # Django's formset cap: never trust TOTAL_FORMS beyond it


def posted_rows(data: Any, prefix: str, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Formset ``prefix``'s rows as posted, blank ones included: each ``column``'s text
    ("" when absent). For presets that fill rows before the formsets read them."""
    try:
        total = int(data.get(f"{prefix}-TOTAL_FORMS") or 0)
    except (TypeError, ValueError):
        return []

    def text(key: str) -> str:
        value = data.get(key)
        return "" if value is None else str(value)

    return [tuple(text(f"{prefix}-{i}-{column}") for column in columns) for i in range(min(total, MAX_POSTED_ROWS))]


def replace_posted_rows(data: Any, prefix: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Put ``rows`` in place of formset ``prefix``'s posted rows (a mutable copy of POST)."""
    try:
        old = int(data.get(f"{prefix}-TOTAL_FORMS") or 0)
    except (TypeError, ValueError):
        old = 0
    for i in range(min(old, MAX_POSTED_ROWS)):
        for column in columns:
            data.pop(f"{prefix}-{i}-{column}", None)
    for i, values in enumerate(rows):
        for column, value in zip(columns, values, strict=True):
            data[f"{prefix}-{i}-{column}"] = value
    data[f"{prefix}-TOTAL_FORMS"] = str(max(len(rows), 1))
    data.setdefault(f"{prefix}-INITIAL_FORMS", "0")


def initial_values(form: forms.Form) -> dict[str, Any]:
    """What an unbound form shows, parsed as its fields would parse it (those that parse)."""
    values = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value in (None, "") and isinstance(field, forms.ChoiceField) and field.choices:
            first = list(field.choices)[0][1]  # a select with nothing chosen shows its first option
            value = list(field.choices)[0][0] if not isinstance(first, (list, tuple)) else first[0][0]
        try:
            values[name] = field.clean(value)
        except forms.ValidationError:
            continue
    return values


def _account_label(account: ProviderAccount) -> str:
    if account.status == KeyStatus.INVALID:
        return f"{account} — refused by the vendor"
    return str(account)


class AccountSelect(forms.Select):
    """The account choice: keys the vendor refused are shown but cannot be picked."""

    def __init__(self, *args: Any, refused: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused = refused

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        pk = getattr(value, "value", value)
        if pk in self.refused:
            option["attrs"]["disabled"] = True
        return option


class RowForm(forms.Form):
    """A row in a repeated section; blank rows are ignored."""

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not any(value not in (None, "", False) for value in data.values())


class BaseRowFormSet(BaseFormSet):
    def non_blank_forms(self) -> list[RowForm]:
        return [f for f in self.forms if getattr(f, "cleaned_data", None) and not f.is_blank()]


class VendorDeploymentForm:
    """Subclasses set ``vendor``, ``main_form``, ``formsets``, ``sections`` and the
    spec mapping; views use ``sections`` to render fields in groups."""

    vendor: ClassVar[str]
    main_form: ClassVar[type[forms.Form]]
    formsets: ClassVar[dict[str, tuple[type[RowForm], str]]] = {}  # prefix -> (row form, spec list path)
    # (title, intro, [field names or "formset:<prefix>"])
    sections: ClassVar[list[tuple[str, str, list[str]]]] = []
    # Spec paths whose errors belong on a differently named field.
    path_to_field: ClassVar[dict[str, str]] = {}
    # Fields shown only for some values of another: {"field": "other=value1,value2"}.
    show_when: ClassVar[dict[str, str]] = {}
    # Fields that take a whole row of the grid.
    wide_fields: ClassVar[frozenset[str]] = frozenset()
    # Fields the vendor cannot change after create (shown, not editable, when updating).
    immutable_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        data: Any = None,
        *,
        accounts: Any = None,
        initial: dict[str, Any] | None = None,
        row_initial: dict[str, list[dict[str, Any]]] | None = None,
        editing: bool = False,
        fixed: bool | None = None,
        offers: list[OfferData] | None = None,
    ) -> None:
        self.editing = editing
        # Whether ``immutable_fields`` are locked: when the deployment exists at the vendor.
        # A fix-and-resubmit edits a deployment the vendor never made, so nothing is fixed yet.
        self.fixed = editing if fixed is None else fixed
        # The vendor's catalog for the team's keys (markets, plans, products...), as
        # ``providers.base.Offer``: subclasses turn it into choices in ``setup_offers``.
        self.offers: list[OfferData] = list(offers or [])
        self.main = self.main_form(data, initial=initial, prefix=None)
        for field in self.main.fields.values():
            # A browser cuts a paste at ``maxlength`` without a word; the length check
            # on the server says so on the field, as you type.
            if field.widget.attrs.pop("maxlength", None) is not None:
                field.error_messages["max_length"] = (
                    "At most %(limit_value)d characters: this has %(show_value)d. Shorten it to submit."
                )
        for name, condition in self.show_when.items():
            if name in self.main.fields:
                self.main.fields[name].show_when = condition
        for name in self.wide_fields:
            if name in self.main.fields:
                self.main.fields[name].wide = True
        if self.fixed:
            for name in self.immutable_fields:
                if name in self.main.fields:
                    self.main.fields[name].disabled = True
                    self.main.fields[name].help_text = "Fixed at creation: the vendor cannot change it."
        if "account" in self.main.fields:
            queryset = accounts if accounts is not None else ProviderAccount.objects.none()
            self.main.fields["account"].queryset = queryset.filter(vendor=self.vendor)
            if editing:
                del self.main.fields["account"]
            else:
                self.setup_account_field()
        self.sets: dict[str, BaseRowFormSet] = {}
        for prefix, (row_form, _path) in self.formsets.items():
            formset_class = forms.formset_factory(
                row_form, formset=BaseRowFormSet, extra=0 if (row_initial or {}).get(prefix) else 1
            )
            self.sets[prefix] = formset_class(data, prefix=prefix, initial=(row_initial or {}).get(prefix))
        self.spec: dict[str, Any] | None = None
        self._validated = False
        self.setup_offers()

    def setup_account_field(self) -> None:
        """Keys the vendor refused are listed, disabled and marked, and never preselected;
        when every key of this vendor was refused, the field says so and links to the keys."""
        field = self.main.fields["account"]
        keys = list(field.queryset)
        refused = {a.pk for a in keys if a.status == KeyStatus.INVALID}
        usable = [a for a in keys if a.pk not in refused]
        field.widget = AccountSelect(refused=refused, attrs=field.widget.attrs, choices=field.widget.choices)
        field.label_from_instance = _account_label
        chosen = self.main.initial.get("account")
        if getattr(chosen, "pk", chosen) in refused:
            # e.g. a clone of a deployment whose key was refused since
            self.main.initial = {k: v for k, v in self.main.initial.items() if k != "account"}
        if len(usable) == 1 and not self.main.initial.get("account"):
            field.initial = usable[0].pk
        if keys and not usable:
            vendor = get_provider_class(self.vendor).display_name
            field.help_text = format_html(
                '{} refused every key the team has for it. <a href="{}">Rotate one on the keys page</a> or add another.',
                vendor,
                reverse("credentials:list"),
            )

    def check_account(self) -> bool:
        """A refused key cannot be chosen, whatever the browser sent."""
        account = getattr(self.main, "cleaned_data", {}).get("account")
        if account is None or account.status != KeyStatus.INVALID:
            return True
        self.main.add_error(
            "account",
            f"{account.get_vendor_display()} refused the key “{account.label}”. "
            "Rotate it on the keys page, or choose another key.",
        )
        return False

    def setup_offers(self) -> None:
        """Fill choices from ``self.offers``; vendors whose form picks an offer override it."""

    def unique_offers(self, kind: str | None = None) -> list[OfferData]:
        """The catalog once per SKU (several keys of one vendor list the same offers),
        cheapest first; ``kind`` narrows it (Fluence's container / vm / baremetal plans)."""
        seen: dict[tuple[str, str], OfferData] = {}
        for offer in self.offers:
            if kind is not None and offer.kind != kind:
                continue
            seen.setdefault((offer.sku, offer.location), offer)
        return sorted(seen.values(), key=lambda o: (o.price_per_hour is None, o.price_per_hour or 0, o.name))

    # --- building --------------------------------------------------------------------
    def build_spec(self, data: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def initial_from_spec(cls, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        """Form values that rebuild ``spec``: for clone, update and fix-and-resubmit."""
        raise NotImplementedError

    @property
    def provider_class(self):
        return get_provider_class(self.vendor)

    # --- validation ----------------------------------------------------------------------
    def is_valid(self) -> bool:
        if self._validated:
            return not self.has_errors()
        self._validated = True
        if not self.main.is_bound:
            return False
        valid = self.main.is_valid()
        if "account" in self.main.fields:
            valid = self.check_account() and valid
        for formset in self.sets.values():
            valid = formset.is_valid() and valid
        valid = self.check_name_free() and valid
        valid = self.check_env_values() and valid
        # The vendor's rules run even when some fields failed to parse, so that every
        # field the user has typed in gets its message now, not after the others are fixed.
        rows = {p: [f.cleaned_data for f in fs.non_blank_forms()] for p, fs in self.sets.items()}
        try:
            spec = self.vendor_rules(self.build_spec(self.main.cleaned_data, rows))
        except SpecError as exc:
            self.add_spec_errors(exc.fields, only_clean=not valid)
            return False
        valid = valid and self.accept(spec)
        if valid:
            self.spec = spec
            valid = self.check_money()
        return valid

    # The field that sets the price, per vendor (the first one the form has).
    PRICE_FIELDS = ("gpu_type", "market", "hardware", "plan_id", "machine_plan_id", "productId")

    def check_money(self) -> bool:
        """The team's price ceiling and budget (controlpanel.costs), for a new deployment:
        over the ceiling is an error on the field that sets the price."""
        if self.editing or self.account is None:
            return True
        from controlpanel.costs.rules import budget_reason, ceiling_reason

        team = self.account.team
        # From the spec just accepted (estimate() would re-enter a vendor form's is_valid).
        unit = self.provider_class.estimate_price(self.spec, self.offers)
        low = self.scale_estimate(self.spec, unit).get("low")
        over = ceiling_reason(team=team, price_per_hour=low)
        if over:
            cleaned = getattr(self.main, "cleaned_data", {})
            names = [n for n in self.PRICE_FIELDS if n in self.main.fields]
            chosen = next((n for n in names if cleaned.get(n)), names[0] if names else None)
            self.main.add_error(chosen, over)
            return False
        spent = budget_reason(team=team)
        if spent:
            self.main.add_error(None, spent)
            return False
        return True

    def check_name_free(self) -> bool:
        """For vendors whose names are unique per account (``Provider.unique_names``): a name
        a live deployment of the same key already has is refused here, with a free one to
        use, rather than by the vendor after submit (which leaves a Failed row)."""
        if self.editing or not self.provider_class.unique_names or "name" in self.main.errors:
            return True
        data = getattr(self.main, "cleaned_data", None) or {}
        name, account = data.get("name"), data.get("account")
        if not name or account is None:
            return True
        from controlpanel.deployments.selectors import free_name

        limit = self.main.fields["name"].max_length or 100  # both vendors with unique names allow 100
        free = free_name(account=account, name=name, limit=limit)
        if free == name:
            return True
        self.main.add_error(
            "name",
            f"“{name}” is taken: another deployment on this {account.get_vendor_display()} key has that name, "
            f"and names are unique there. “{free}” is free.",
        )
        return False

    ENV_KEY_FIELDS: ClassVar[tuple[str, ...]] = ("name", "key")

    def check_env_values(self) -> bool:
        """An env row with a name and no value (a template's or default image's placeholder,
        say ``HF_TOKEN``) is named on its value field, for every vendor's env formset: rows
        with a ``name``/``key`` and a ``value`` field (and, for Together, a value source)."""
        ok = True
        for formset in self.sets.values():
            for row in formset.forms:
                data = getattr(row, "cleaned_data", None) or {}
                key = next((f for f in self.ENV_KEY_FIELDS if f in row.fields), None)
                if key is None or "value" not in row.fields or "value" in row.errors:
                    continue
                if data.get("source") not in (None, "", "value"):
                    continue
                name = str(data.get(key) or "").strip()
                if name and data.get("value") in (None, ""):
                    row.add_error("value", f"{name} has no value: fill it in or remove the row.")
                    ok = False
        return ok

    def vendor_rules(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The vendor's rules for ``spec``: normalised, or :class:`SpecError`."""
        return self.provider_class.validate(spec, self.validation_context())

    def validation_context(self) -> ValidationContext:
        """What the vendor's rules see beyond the spec. Vendors whose rules need the
        catalog or the key's metadata (Fluence, Novita) fill it in."""
        return ValidationContext()

    def accept(self, spec: dict[str, Any]) -> bool:
        """Last checks on a spec that passed every rule; they add their own errors."""
        return True

    def has_errors(self) -> bool:
        return bool(self.main.errors) or any(fs.total_error_count() for fs in self.sets.values())

    def add_spec_errors(self, fields: dict[str, list[str]], *, only_clean: bool = False) -> None:
        """Put messages keyed by spec path on the fields that produced them.

        With ``only_clean``, a field that already has an error (say, "required") keeps
        just that one: the vendor's rule about a value that is not there says nothing new.
        """
        for raw_path, messages in fields.items():
            path = normalise_path(raw_path)
            target_form, field = self._field_for_path(path)
            if only_clean and (field is None or field in target_form.errors):
                continue
            for message in messages:
                if field and field in target_form.fields:
                    target_form.add_error(field, message)
                else:
                    target_form.add_error(None, f"{path}: {message}" if path else message)

    def _field_for_path(self, path: str) -> tuple[forms.Form, str | None]:
        if path in self.path_to_field:
            return self.main, self.path_to_field[path]
        for prefix, (_row, list_path) in self.formsets.items():
            if path == list_path:
                return self.main, None
            if path.startswith(list_path + "."):
                index, _, leaf = path[len(list_path) + 1 :].partition(".")
                rows = self.sets[prefix].non_blank_forms() or self.sets[prefix].forms
                if plain_int(index) is not None and int(index) < len(rows):
                    row = rows[int(index)]
                    leaf = self.row_path_to_field(prefix, leaf)
                    return row, leaf if leaf in row.fields else None
                return self.main, None
        head = path.split(".", 1)[0]
        return self.main, (path if path in self.main.fields else head if head in self.main.fields else None)

    def row_path_to_field(self, prefix: str, leaf: str) -> str:
        return leaf

    # --- one field, for validate-as-you-type ------------------------------------------------
    def errors_for(self, html_name: str) -> list[str]:
        """Errors of the field whose input is named ``html_name`` (``name``, ``env-0-value``)."""
        self.is_valid()
        for formset in self.sets.values():
            for form in formset.forms:
                for name in form.fields:
                    if form.add_prefix(name) == html_name:
                        return list(form.errors.get(name, []))
        return list(self.main.errors.get(html_name, []))

    def value_errors_beside(self, html_name: str) -> dict[str, list[str]]:
        """The ``value`` errors of the row whose other field is ``html_name``: typing an env
        variable's name says at once that its value is missing (and clears it once it is not)."""
        self.is_valid()
        for formset in self.sets.values():
            for form in formset.forms:
                names = {form.add_prefix(name) for name in form.fields}
                if html_name in names and "value" in form.fields and form.add_prefix("value") != html_name:
                    return {form.add_prefix("value"): list(form.errors.get("value", []))}
        return {}

    # --- money ------------------------------------------------------------------------------------
    def estimate(self, offers: Any = ()) -> dict[str, Any]:
        """Price per hour for what the form holds so far, as far as it can be known."""
        self.is_valid()
        spec = self.spec or self.partial_spec()
        provider = self.provider_class
        unit = provider.estimate_price(spec, offers or self.offers)
        estimate = {"unit": unit, **self.scale_estimate(spec, unit)}
        if estimate.get("low") is not None:
            estimate["day"] = estimate["low"] * 24
            estimate["month"] = estimate["low"] * 720
        return estimate

    def partial_spec(self) -> dict[str, Any]:
        """The spec built from whatever fields are valid, for prices before the form is."""
        if not self.main.is_bound:  # the first render: the price of what the form starts with
            data = initial_values(self.main)
            rows = {p: [initial_values(f) for f in fs.forms] for p, fs in self.sets.items()}
        else:
            data = dict(getattr(self.main, "cleaned_data", {}).items())
            rows = {
                p: [f.cleaned_data for f in fs.forms if getattr(f, "cleaned_data", None)] for p, fs in self.sets.items()
            }
        try:
            return self.build_spec(data, rows)
        except (KeyError, TypeError, ValueError):
            return {}

    def scale_estimate(self, spec: dict[str, Any], unit: Decimal | None) -> dict[str, Any]:
        """How the unit price becomes a bill: replicas for Together, instances elsewhere."""
        return {} if unit is None else {"low": unit, "high": unit, "low_replicas": 1, "high_replicas": 1}

    def charges(self) -> list[Any]:
        """What submitting takes from the account at once, for the confirmation step."""
        return self.provider_class.upfront_charges(self.spec or {}, self.offers) if self.spec else []

    # --- rendering help ---------------------------------------------------------------------
    def rendered_sections(self) -> list[dict[str, Any]]:
        out = []
        for title, intro, names in self.sections:
            items = []
            for name in names:
                if name.startswith("formset:"):
                    prefix = name.split(":", 1)[1]
                    items.append({"formset": self.sets[prefix], "prefix": prefix})
                elif name in self.main.fields:
                    items.append({"field": self.main[name]})
            if items:
                out.append({"title": title, "intro": intro, "items": items})
        return out

    @property
    def non_field_errors(self) -> list[str]:
        errors = list(self.main.non_field_errors())
        for formset in self.sets.values():
            errors += list(formset.non_form_errors())
            for form in formset.forms:
                errors += list(form.non_field_errors())
        return errors

    @property
    def account(self) -> ProviderAccount | None:
        return (
            self.main.cleaned_data.get("account") if self.main.is_bound and hasattr(self.main, "cleaned_data") else None
        )
