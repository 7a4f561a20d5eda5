"""The Novita form: every field of ``POST /gpu/instance/create`` for a GPU instance.

The rules live in ``providers.novita`` (``NovitaProvider.validate``, given the chosen
product's window, billing methods and regions from the synced catalog, the key's clusters
and network volumes from its metadata, and when editing the spec the instance has, in
``validation_context()``); fields here parse types, carry hints to the browser
and turn rows into the request's shapes: port rows into the ``"8000/http, 22/tcp"``
string, env rows into ``envs[{key, value}]``, volume rows into ``networkStorages[{Id,
mountPoint}]`` and the Jupyter switch into ``tools``. CPU instances (``kind: "cpu"``)
are left out of the form; the adapter takes them.

Choices the contract leaves open:
- Cluster, registry credential and network volume are picked from what the key's last
  verification listed (ids nobody types); an id already in a spec (edit, clone) stays a
  choice even when the list no longer has it.
- ``ports`` errors come back for the whole string; each message is put on the row whose
  port it names, else on the ports section.
- When editing, what Novita cannot change (``providers.novita.FIXED_FIELDS``) is shown
  but locked, and the root disk can only grow (edit takes ``expandRootDisk`` ≥ 0 [V]).
- The template picker (the chosen key's private and Novita's official templates, from its
  metadata) works like Fluence's default images: on the server when the form is posted
  (no script; the confirmation step shows the result before anything is sent), it fills
  the image, port rows, env rows (names only: values are the user's to give), command
  (the template's start command), root disk and the Jupyter tool wherever they are empty
  or still hold another template's values (the root disk also when it is the form's
  default). The template's id is not sent: the create body (contract §2.3) has none.
- A template's root disk below the product's window is raised to its floor (more disk,
  and the template still fits); one above it is filled as the template says and the rule
  reports it on the field: shrinking it quietly could leave the image without room, so
  the user chooses (a smaller disk or a product with a larger window).
- A template that lists Jupyter ticks the tool, on the form's Jupyter port (8888 unless
  set), and that port is not repeated as a port row (Novita refuses a port exposed
  twice). The picker only ever ticks it: another template leaves it as it is.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.http import QueryDict

from controlpanel.core.templatetags.panel import money
from controlpanel.core.text import plain_int
from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms.base import (
    RowForm,
    VendorDeploymentForm,
    normalise_path,
    posted_rows,
    replace_posted_rows,
)
from providers import novita as rules
from providers.base import Offer as OfferData
from providers.base import ValidationContext

TOOL = "tools.0"  # the form offers Novita's one tool, Jupyter [V]
# Form fields that stand for a tool entry, and the spec paths they answer for.
JUPYTER_PATHS = {
    TOOL: "jupyter",
    "tools": "jupyter",
    f"{TOOL}.name": "jupyter",
    f"{TOOL}.port": "jupyter_port",
    f"{TOOL}.type": "jupyter_type",
}


def _num(**attrs: Any) -> forms.NumberInput:
    return forms.NumberInput(attrs=attrs)


class NovitaMainForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        label="Novita account",
        empty_label=None,
        help_text="Which of the team's Novita keys owns the instance and pays for it.",
    )
    name = forms.CharField(
        help_text="Letters, digits and hyphens, up to 255. Novita cannot rename an instance later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "llama-serve-01"}),
    )
    productId = forms.ChoiceField(  # noqa: N815 -- named as Novita's request field
        label="GPU product",
        choices=(),
        help_text="Price per GPU-hour on demand, then spot and a month's subscription; stock and regions.",
    )
    gpuNum = forms.IntegerField(  # noqa: N815
        label="GPUs",
        initial=1,
        help_text="1 to 8 of the product's GPUs; CPU, memory and disk grow with them.",
        widget=_num(min=rules.GPU_NUM[0], max=rules.GPU_NUM[1]),
    )
    clusterId = forms.ChoiceField(  # noqa: N815
        label="Cluster",
        required=False,
        choices=(),
        help_text="Must be one of the product's regions. Any: Novita picks one where the product has capacity.",
    )
    rootfsSize = forms.IntegerField(  # noqa: N815
        label="Root disk (GB)",
        initial=60,
        help_text="Within the product's window (shown with each product). It can grow later, never shrink.",
        widget=_num(min=rules.ROOTFS[0], max=rules.ROOTFS[1]),
    )
    minCudaVersion = forms.CharField(  # noqa: N815
        label="Minimum CUDA version",
        required=False,
        help_text="Only hosts whose driver supports this CUDA version, e.g. 12.4.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "12.4"}),
    )
    networkId = forms.CharField(  # noqa: N815
        label="VPC network id",
        required=False,
        help_text="Leave empty unless the instance joins a VPC network.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    template = forms.ChoiceField(
        label="Start from a template",
        required=False,
        choices=(),
        help_text=(
            "Novita's official templates and your own. Fills in the image, ports, variable names, command, "
            "root disk and Jupyter you have not set yourself; you see them when you review the cost."
        ),
    )
    imageUrl = forms.CharField(  # noqa: N815
        label="Image",
        help_text="A container image with its registry, e.g. docker.io/vllm/vllm-openai:latest.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "docker.io/vllm/vllm-openai:latest"}),
    )
    imageAuthId = forms.ChoiceField(  # noqa: N815
        label="Saved registry credential",
        required=False,
        choices=(),
        help_text="For a private image: a credential saved at Novita (listed when the key was last checked).",
    )
    imageAuth = forms.CharField(  # noqa: N815
        label="Or registry username:password",
        required=False,
        help_text="Sent with the request and never shown again: a copy asks for it anew. Use one or the other.",
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    command = forms.CharField(
        required=False,
        help_text="Replaces the image's CMD, e.g. --model meta-llama/Llama-3.1-8B-Instruct.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    entrypoint = forms.CharField(
        required=False,
        help_text="Replaces the image's ENTRYPOINT.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    jupyter = forms.BooleanField(
        label="Jupyter", required=False, help_text="Novita's Jupyter tool, for official images that include it."
    )
    jupyter_port = forms.IntegerField(
        label="Jupyter port",
        required=False,
        initial=8888,
        widget=_num(min=rules.PORT_RANGE[0], max=rules.PORT_RANGE[1]),
    )
    jupyter_type = forms.ChoiceField(
        label="Jupyter port type", required=False, initial="http", choices=[(t, t) for t in rules.PORT_TYPES]
    )
    billingMode = forms.ChoiceField(  # noqa: N815
        label="Billing",
        initial="onDemand",
        choices=[(m, rules.BILLING_LABELS[m]) for m in rules.BILLING_MODES],
        help_text="The product's label says which modes it is sold in and at what price.",
    )
    month = forms.IntegerField(
        label="Months", required=False, initial=1, help_text="Prepaid now, for this many months.", widget=_num(min=1)
    )
    autoRenew = forms.BooleanField(  # noqa: N815
        label="Renew automatically", required=False, help_text="At expiry, Novita renews and charges again."
    )
    autoRenewMonth = forms.IntegerField(  # noqa: N815
        label="Renew for (months)",
        required=False,
        help_text="With auto-renew: 1 to 12 months each time.",
        widget=_num(min=rules.AUTO_RENEW_MONTHS[0], max=rules.AUTO_RENEW_MONTHS[1]),
    )


class PortRowForm(RowForm):
    port = forms.IntegerField(
        required=False, widget=_num(min=rules.PORT_RANGE[0], max=rules.PORT_RANGE[1], placeholder="8000")
    )
    type = forms.ChoiceField(
        required=False,
        initial="http",
        label="Type",
        choices=[(t, t) for t in rules.PORT_TYPES],
        widget=forms.Select(attrs={"aria-label": "Port type: http gets a public URL, tcp a host and port"}),
    )

    def is_blank(self) -> bool:
        return (getattr(self, "cleaned_data", {}) or {}).get("port") in (None, "")


class EnvRowForm(RowForm):
    key = forms.CharField(
        required=False,
        label="Variable",
        strip=False,
        widget=forms.TextInput(attrs={"placeholder": "HF_TOKEN", "spellcheck": "false"}),
    )
    value = forms.CharField(
        required=False, strip=False, widget=forms.TextInput(attrs={"placeholder": "value", "spellcheck": "false"})
    )


class VolumeRowForm(RowForm):
    """One network volume. ``choices`` is set per form instance (a subclass made in
    ``NovitaDeploymentForm.__init__``): the volumes the team's Novita keys listed.

    The mount path starts as Novita's default and a row counts only with both a volume
    and a path: removing a row clears its text inputs but leaves a select as it was."""

    choices: ClassVar[list[tuple[str, str]]] = []

    Id = forms.ChoiceField(label="Network volume", required=False, choices=())  # capital I, as Novita spells it
    mountPoint = forms.CharField(  # noqa: N815
        label="Mount path",
        required=False,
        initial=rules.DEFAULT_MOUNT_POINT,
        widget=forms.TextInput(attrs={"placeholder": rules.DEFAULT_MOUNT_POINT, "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["Id"].choices = [("", "Choose a volume…"), *self.choices]

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return not (data.get("Id") and (data.get("mountPoint") or "").strip())


class NovitaDeploymentForm(VendorDeploymentForm):
    vendor = "novita"
    main_form = NovitaMainForm
    formsets = {
        "ports": (PortRowForm, "ports"),
        "env": (EnvRowForm, "envs"),
        "volumes": (VolumeRowForm, "networkStorages"),
    }
    sections = [
        ("Basics", "Who pays, and the instance's name.", ["account", "name"]),
        (
            "Hardware",
            "A product is a GPU model with CPU, memory and disk per GPU. Billing starts when the image is pulled.",
            ["productId", "gpuNum", "clusterId", "rootfsSize", "minCudaVersion", "networkId"],
        ),
        (
            "Container",
            "What runs. Private images need a registry credential.",
            ["template", "imageUrl", "imageAuthId", "imageAuth", "command", "entrypoint"],
        ),
        (
            "Ports",
            "http ports get a public URL, tcp ports a host and port. 2222–2224 are Novita's; "
            f"at most {rules.MAX_PORTS_AND_TOOLS} ports, Jupyter included.",
            ["formset:ports", "jupyter", "jupyter_port", "jupyter_type"],
        ),
        ("Environment", f"Up to {rules.ENVS_MAX} variables set in the container.", ["formset:env"]),
        (
            "Network volumes",
            "Volumes live in one cluster: choose that cluster above, or Novita may place the instance elsewhere.",
            ["formset:volumes"],
        ),
        (
            "Billing",
            "On demand is billed per second while it runs; spot is cheaper but can be reclaimed; "
            "monthly is prepaid at creation and cannot be released before it ends.",
            ["billingMode", "month", "autoRenew", "autoRenewMonth"],
        ),
    ]
    wide_fields = frozenset({"productId", "template", "imageUrl", "command", "entrypoint", "billingMode"})
    show_when = {
        "month": "billingMode=monthly",
        "autoRenew": "billingMode=monthly",
        "autoRenewMonth": "billingMode=monthly",
        "jupyter_port": "jupyter=on",
        "jupyter_type": "jupyter=on",
    }
    # Novita has no rename, and edit/upgrade change only ports, disk, image, credential id,
    # env, command, entrypoint and volumes [V: §2.7]. The Jupyter tool is not in either
    # call, so it is fixed too [I].
    immutable_fields = frozenset(
        {f for f in rules.FIXED_FIELDS if f in NovitaMainForm.base_fields} | {"jupyter", "jupyter_port", "jupyter_type"}
    )
    path_to_field = JUPYTER_PATHS

    def __init__(self, data: Any = None, *, accounts: Any = None, **kwargs: Any) -> None:
        queryset = accounts if accounts is not None else ProviderAccount.objects.none()
        self.novita_accounts = list(queryset.filter(vendor=self.vendor))
        initial_rows = (kwargs.get("row_initial") or {}).get("volumes") or []
        volumes = self.volume_choices([str(r.get("Id") or "") for r in initial_rows])
        # A row form per instance: its volume choices are this team's, not a global.
        self.formsets = {
            **self.formsets,
            "volumes": (type("VolumeRowForm", (VolumeRowForm,), {"choices": volumes}), "networkStorages"),
        }
        self.templates = self.template_items(data, kwargs.get("initial"))
        if data is not None and not kwargs.get("editing"):
            data = self.apply_template(data, kwargs.get("offers") or [])
        super().__init__(data, accounts=accounts, **kwargs)
        if self.editing:
            del self.main.fields["template"]  # a template only starts a new instance
        else:
            self.main.fields["template"].choices = self.template_choices()
        # A registry password from a stored spec is never written back into a page: a copy
        # or a resubmission asks for it again; an update keeps it (the field is locked).
        if self.fixed:
            self.main.fields["imageAuth"].widget.render_value = False
        elif not self.main.is_bound:
            self.main.initial.pop("imageAuth", None)

    # --- what the team's keys know (account metadata) -------------------------------------
    def metadata_items(self, key: str) -> list[tuple[ProviderAccount, dict[str, Any]]]:
        """``metadata[key]`` of every Novita key, once per id, with the key it came from."""
        seen: set[str] = set()
        items = []
        for account in self.novita_accounts:
            for item in (account.metadata or {}).get(key) or []:
                if isinstance(item, dict) and item.get("id") not in (None, "") and str(item["id"]) not in seen:
                    seen.add(str(item["id"]))
                    items.append((account, item))
        return items

    def _owner(self, account: ProviderAccount) -> str:
        return f" — {account.label}" if len(self.novita_accounts) > 1 else ""

    def volume_choices(self, current: list[str]) -> list[tuple[str, str]]:
        choices = []
        for account, volume in self.metadata_items("network_storages"):
            parts = [str(volume.get("name") or volume["id"])]
            if volume.get("cluster_name") or volume.get("cluster_id"):
                parts.append(str(volume.get("cluster_name") or volume.get("cluster_id")))
            if volume.get("size_gb"):
                parts.append(f"{volume['size_gb']} GB")
            choices.append((str(volume["id"]), " · ".join(parts) + self._owner(account)))
        known = {value for value, _ in choices}
        choices += [(v, f"{v} (in the spec; not in the key's volume list)") for v in current if v and v not in known]
        return choices

    def metadata_for(self, account: ProviderAccount | None) -> dict[str, Any]:
        """The chosen key's metadata; when editing (no key field), every Novita key's."""
        if account is not None:
            return dict(account.metadata or {})
        merged: dict[str, list[Any]] = {}
        for key in ("clusters", "network_storages", "registry_auths"):
            merged[key] = [item for _account, item in self.metadata_items(key)]
        return merged

    # --- the template picker ------------------------------------------------------------------
    def template_items(self, data: Any, initial: dict[str, Any] | None) -> list[tuple[ProviderAccount, dict[str, Any]]]:
        """Templates from the chosen key's metadata (every Novita key's until one is chosen),
        once per id, with the key they came from; only those with an image to start from."""
        chosen = (data.get("account") if data is not None else None) or (initial or {}).get("account")
        chosen = str(getattr(chosen, "pk", chosen) or "")
        accounts = [a for a in self.novita_accounts if str(a.pk) == chosen] or self.novita_accounts
        seen: set[str] = set()
        items = []
        for account in accounts:
            for item in (account.metadata or {}).get("templates") or []:
                ident = str(item.get("id") or "") if isinstance(item, dict) else ""
                if ident and item.get("image") and ident not in seen:
                    seen.add(ident)
                    items.append((account, item))
        return items

    def template_choices(self) -> list[tuple[str, Any]]:
        mine = [
            (str(t["id"]), self.template_label(t) + self._owner(a))
            for a, t in self.templates
            if t.get("channel") == "private"
        ]
        official = [(str(t["id"]), self.template_label(t)) for _a, t in self.templates if t.get("channel") != "private"]
        empty = "None: my own settings" if self.templates else "None yet: templates are listed when a key is verified"
        return [("", empty)] + [
            (group, items) for group, items in (("Your templates", mine), ("Novita's templates", official)) if items
        ]

    @staticmethod
    def template_label(template: dict[str, Any]) -> str:
        ports = ", ".join(f"{p.get('port')}/{p.get('type') or 'http'}" for p in template.get("ports") or [])
        parts = [
            str(template.get("name") or template["id"]),
            str(template.get("image") or ""),
            f"ports {ports}" if ports else "",
            " + ".join(template.get("tools") or []),
            f"{template['rootfs_gb']} GB disk" if template.get("rootfs_gb") else "",
        ]
        return " · ".join(p for p in parts if p)

    def apply_template(self, data: Any, offers: list[OfferData]) -> Any:
        """Fill what the chosen template defines into the fields still empty or still
        holding another template's values; leave what the user typed alone."""
        chosen = next((t for _a, t in self.templates if str(t["id"]) == str(data.get("template") or "")), None)
        if chosen is None:
            return data
        others = [t for _a, t in self.templates if t is not chosen]
        filled = data.copy() if isinstance(data, QueryDict) else dict(data)
        product = next((o for o in offers if o.sku == _value(filled, "productId")), None)
        low = str((product.extra or {}).get("minRootFS") or "") if product else ""
        floor = max(rules.ROOTFS[0], plain_int(low) or 0)
        jupyter_port = _value(filled, "jupyter_port") or str(JUPYTER_PORT)

        def preset(template: dict[str, Any], key: str) -> Any:
            return _preset_value(template, key, floor=floor, jupyter_port=jupyter_port)

        def untouched(value: Any, key: str, *defaults: str) -> bool:
            return value in (None, "", [], *defaults) or any(value == preset(t, key) for t in others)

        for field, key in (("imageUrl", "image"), ("command", "start_command")):
            if untouched(_value(filled, field), key):
                filled[field] = preset(chosen, key)
        if chosen.get("rootfs_gb") and untouched(_value(filled, "rootfsSize"), "rootfs", str(ROOTFS_DEFAULT)):
            filled["rootfsSize"] = preset(chosen, "rootfs")
        for prefix in ("ports", "env"):
            if untouched(_rows(filled, prefix), prefix):
                replace_posted_rows(filled, prefix, ROW_COLUMNS[prefix], preset(chosen, prefix))
        # Jupyter on, unless a port row of the user's already exposes its port.
        exposed = {port for port, _type in _rows(filled, "ports")}
        if _lists_jupyter(chosen) and not filled.get("jupyter") and jupyter_port not in exposed:
            filled["jupyter"] = "on"
            filled["jupyter_port"] = jupyter_port
            kind = {str(p.get("port")): p.get("type") for p in chosen.get("ports") or []}.get(jupyter_port)
            filled["jupyter_type"] = kind if kind in rules.PORT_TYPES else "http"
        return filled

    # --- choices --------------------------------------------------------------------------
    def setup_offers(self) -> None:
        initial = self.main.initial or {}
        products = self.unique_offers()
        choices = [(o.sku, self.product_label(o)) for o in products]
        current = initial.get("productId")
        if current and current not in {sku for sku, _ in choices}:
            choices.append((current, f"{current} (not in the synced product list)"))
        field = self.main.fields["productId"]
        if choices:
            field.choices = [("", "Choose a GPU product…"), *choices]
        else:
            field.choices = [("", "No products yet: the catalog syncs when a Novita key is verified")]

        # Clusters are Novita's, the same for every key: no key named beside them.
        clusters = [(str(c["id"]), str(c.get("name") or c["id"])) for _a, c in self.metadata_items("clusters")]
        current = str(initial.get("clusterId") or "")
        if current and current not in {cid for cid, _ in clusters}:
            clusters.append((current, f"{current} (not in the key's cluster list)"))
        self.main.fields["clusterId"].choices = [("", "Any cluster: Novita chooses"), *clusters]

        auths = [
            (str(r["id"]), str(r.get("name") or r["id"]) + self._owner(a))
            for a, r in self.metadata_items("registry_auths")
        ]
        current = str(initial.get("imageAuthId") or "")
        if current and current not in {aid for aid, _ in auths}:
            auths.append((current, f"{current} (not in the key's credential list)"))
        self.main.fields["imageAuthId"].choices = [("", "None (public image)"), *auths]

    @staticmethod
    def product_label(offer: OfferData) -> str:
        extra = offer.extra or {}
        parts = [offer.name]
        methods = extra.get("billingMethods") or list(rules.BILLING_MODES)
        if offer.price_per_hour is not None and "onDemand" in methods:
            parts.append(f"{money(offer.price_per_hour)}/GPU-h on demand")
        spot = rules.unit_price(offer, "spot")
        if spot is not None and "spot" in methods:
            parts.append(f"spot {money(spot)}/GPU-h")
        month = rules.monthly_price(offer, 1) if "monthly" in methods else None
        if month is not None:
            parts.append(f"{money(month[0])}/GPU-month")
        resources = [f"{extra[k]} {u}" for k, u in (("cpuPerGpu", "vCPU"), ("memoryPerGpu", "GB RAM")) if extra.get(k)]
        if resources:
            parts.append(" + ".join(resources) + " per GPU")
        if extra.get("minRootFS") is not None and extra.get("maxRootFS") is not None:
            parts.append(f"disk {extra['minRootFS']}–{extra['maxRootFS']} GB")
        regions = extra.get("regions") or []
        parts.append(", ".join(regions) if regions else "all regions")
        if not offer.available:
            parts.append("no capacity now")
        elif extra.get("inventoryState"):
            parts.append(f"stock {extra['inventoryState']}")
        return " · ".join(parts)

    # --- building ------------------------------------------------------------------------
    def build_spec(self, data: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": "gpu"}
        for key in (
            "name",
            "productId",
            "gpuNum",
            "rootfsSize",
            "imageUrl",
            "imageAuthId",
            "imageAuth",
            "command",
            "entrypoint",
            "clusterId",
            "networkId",
            "minCudaVersion",
        ):
            value = data.get(key)
            if isinstance(value, str) and key != "imageAuth":
                value = value.strip()
            if value not in (None, ""):
                spec[key] = value
        ports = [r for r in rows.get("ports", []) if r.get("port") not in (None, "")]
        if ports:
            spec["ports"] = rules.format_ports({"port": r["port"], "type": r.get("type") or "http"} for r in ports)
        envs = [{"key": r.get("key") or "", "value": r.get("value") or ""} for r in rows.get("env", [])]
        if envs:
            spec["envs"] = envs
        if data.get("jupyter"):
            port = data.get("jupyter_port")
            spec["tools"] = [
                {
                    "name": "Jupyter",
                    "port": "" if port is None else str(port),
                    "type": data.get("jupyter_type") or "http",
                }
            ]
        volumes = [{"Id": r.get("Id") or "", "mountPoint": r.get("mountPoint") or ""} for r in rows.get("volumes", [])]
        if volumes:
            spec["networkStorages"] = volumes
        mode = data.get("billingMode") or "onDemand"
        spec["billingMode"] = mode
        if mode == "monthly":  # the other modes hide these fields; their values are not sent
            for key in ("month", "autoRenewMonth"):
                if data.get(key) is not None:
                    spec[key] = data[key]
            spec["autoRenew"] = bool(data.get("autoRenew"))
        return spec

    @classmethod
    def initial_from_spec(cls, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        fields = NovitaMainForm.base_fields
        initial = {k: v for k, v in spec.items() if k in fields and not isinstance(v, (list, dict))}
        tools = [t for t in spec.get("tools") or [] if isinstance(t, dict) and t.get("name") == "Jupyter"]
        if tools:
            initial.update(jupyter=True, jupyter_port=tools[0].get("port"), jupyter_type=tools[0].get("type") or "http")
        ports, _problems = rules.parse_ports(spec.get("ports"))
        rows = {
            "ports": [{"port": p["port"], "type": p["type"]} for p in ports],
            "env": [{"key": e.get("key", ""), "value": e.get("value", "")} for e in spec.get("envs") or []],
            "volumes": [
                {"Id": v.get("Id", ""), "mountPoint": v.get("mountPoint", "")}
                for v in spec.get("networkStorages") or []
            ],
        }
        return initial, rows

    # --- validation --------------------------------------------------------------------------
    def validation_context(self) -> ValidationContext:
        """The catalog (the product's window, billing methods, regions) and the key's
        metadata (clusters, volumes' clusters); when editing, the spec the instance has, so
        that what the update would refuse (a disk that shrinks, user:pass through an
        upgrade...) is said on the field before it is queued."""
        return ValidationContext(
            offers=tuple(self.offers),
            metadata=self.metadata_for(self.account),
            existing=self.fixed,
            previous=self.previous_spec() if self.fixed else None,
        )

    def accept(self, spec: dict[str, Any]) -> bool:
        return self.check_owners(self.account)

    def previous_spec(self) -> dict[str, Any] | None:
        """The spec the instance has, rebuilt from the form's initial values."""
        rows = {prefix: list(formset.initial or []) for prefix, formset in self.sets.items()}
        try:
            return self.build_spec(dict(self.main.initial), rows)
        except (KeyError, TypeError, ValueError):
            return None  # an old spec the form cannot read is the vendor's to judge

    def check_owners(self, account: ProviderAccount | None) -> bool:
        """The credential and volumes chosen must be the paying key's own."""
        if account is None or len(self.novita_accounts) < 2:
            return True
        metadata = account.metadata or {}
        mine = {str(i.get("id")) for i in metadata.get("registry_auths") or [] if isinstance(i, dict)}
        ok = True
        auth = self.main.cleaned_data.get("imageAuthId")
        if auth and auth not in mine and auth != str(self.main.initial.get("imageAuthId") or ""):
            self.main.add_error("imageAuthId", f"This credential belongs to another key, not “{account.label}”.")
            ok = False
        volumes = {str(i.get("id")) for i in metadata.get("network_storages") or [] if isinstance(i, dict)}
        for row in self.sets["volumes"].non_blank_forms():
            volume = row.cleaned_data.get("Id")
            if volume not in volumes:
                row.add_error("Id", f"This volume belongs to another key, not “{account.label}”.")
                ok = False
        return ok

    def add_spec_errors(self, fields: dict[str, list[str]], *, only_clean: bool = False) -> None:
        """``ports`` is one string at Novita: each message goes to the row whose port it
        names (``"2222: …"``, ``"8000 is listed twice."``); one that names none (the
        15-port limit) goes to the last row, the one to remove."""
        rest: dict[str, list[str]] = {}
        rows = self.sets["ports"].non_blank_forms()
        for raw_path, messages in fields.items():
            if normalise_path(raw_path) != "ports":
                rest[raw_path] = messages
                continue
            for message in messages:
                row = self._port_row(rows, message) or (rows[-1] if rows else None)
                if row is None:
                    self.main.add_error(None, f"Ports: {message}")
                elif not (only_clean and "port" in row.errors):
                    row.add_error("port", message)
        super().add_spec_errors(rest, only_clean=only_clean)

    @staticmethod
    def _port_row(rows: list[forms.Form], message: str) -> forms.Form | None:
        named = re.match(r"^\s*(\d+)\b", message)
        if not named:
            return None
        port = int(named.group(1))
        matches = [r for r in rows if r.cleaned_data.get("port") == port]
        # "8000 is listed twice": the second row is the one to fix.
        return matches[-1] if matches else None

    # --- money ------------------------------------------------------------------------------
    def scale_estimate(self, spec: dict[str, Any], unit: Decimal | None) -> dict[str, Any]:
        if unit is None:
            return {}
        return {
            "low": unit,
            "high": unit,
            "low_replicas": 1,
            "high_replicas": 1,
            "unit_label": "instance",
            "note": self.price_note(spec),
        }

    def price_note(self, spec: dict[str, Any]) -> str:
        """On demand vs spot vs monthly for the chosen product and GPU count, before anything is sent."""
        offer = next((o for o in self.unique_offers() if o.sku == spec.get("productId")), None)
        if offer is None:
            return ""
        gpus = rules.gpu_count(spec)
        methods = (offer.extra or {}).get("billingMethods") or list(rules.BILLING_MODES)
        options = []
        if "onDemand" in methods and offer.price_per_hour is not None:
            options.append(f"on demand {money(offer.price_per_hour * gpus)}/h, billed per second from the image pull")
        spot = rules.unit_price(offer, "spot")
        if "spot" in methods and spot is not None:
            options.append(f"spot {money(spot * gpus)}/h, but Novita can reclaim it")
        month = rules.monthly_price(offer, 1) if "monthly" in methods else None
        if month is not None:
            options.append(f"monthly {money(month[0] * gpus)} a month, prepaid at creation")
        mode = rules.billing_mode(spec)
        head = f"{gpus} × {offer.name}, {rules.BILLING_LABELS.get(mode, mode).split(':')[0].lower()}."
        return head + (" Compare: " + "; ".join(options) + "." if options else "")


JUPYTER_PORT = NovitaMainForm.base_fields["jupyter_port"].initial
ROOTFS_DEFAULT = NovitaMainForm.base_fields["rootfsSize"].initial
ROW_COLUMNS = {"ports": ("port", "type"), "env": ("key", "value")}


def _value(data: Any, key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value).strip()


def _lists_jupyter(template: dict[str, Any]) -> bool:
    return any(str(tool).lower() == "jupyter" for tool in template.get("tools") or [])


def _preset_value(template: dict[str, Any], key: str, *, floor: int, jupyter_port: str) -> Any:
    """A template's value for a form field, in the shape the form holds it."""
    if key == "image":
        return str(template.get("image") or "")
    if key == "start_command":
        return str(template.get("start_command") or "")
    if key == "rootfs":
        size = template.get("rootfs_gb")
        return str(max(floor, int(size))) if isinstance(size, int) and size > 0 else ""
    if key == "ports":
        # A template that lists Jupyter exposes its port through the tool, not a row.
        skip = jupyter_port if _lists_jupyter(template) else None
        return [
            (str(p.get("port")), p.get("type") or "http")
            for p in template.get("ports") or []
            if str(p.get("port")) != skip
        ]
    # The metadata keeps variable names only (values may be secrets): rows to fill in.
    return [(str(name), "") for name in template.get("env_keys") or [] if name]


def _rows(data: Any, prefix: str) -> list[tuple[str, str]]:
    """A formset's rows as posted, without the blank ones (a port row needs its port; an
    env row counts with a name or a value)."""
    rows = []
    for first, second in posted_rows(data, prefix, ROW_COLUMNS[prefix]):
        first, second = first.strip(), second.strip()
        if first or (prefix == "env" and second):
            rows.append((first, second or ("http" if prefix == "ports" else "")))
    return rows


FORM = NovitaDeploymentForm
