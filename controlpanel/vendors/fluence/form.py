"""The Fluence deployment form: containers, VMs and bare metal, every field of the three
create bodies (``POST /gpu/instances/``, ``/gpu/instances/vms``, ``/gpu/instances/baremetal``).

One form with a ``kind`` choice; each kind's sections show only for it. The rules live in
``providers.fluence`` (``FluenceProvider.validate``, whose context carries the catalog
and the default images); fields here parse types, carry hints, and put the vendor's
messages back on the field that caused them. Choices come from the synced catalog: container plans (with their
countries), VM and bare-metal offers (with their OS images). A location or OS image the
chosen plan lacks is hidden in the browser (``data-show-when`` on the ``<option>``) and
refused by the rules, with the catalog's list.

Choices worth knowing:
- A port row may hold a range (``5000-5005``), as Fluence's console accepts; it goes into
  the spec as typed and the rules expand it (their errors name the row it came from).
- The default-image picker (from the key's metadata, ``GET /gpu/default-images/``) fills
  the image, ports, environment and startup command that are empty or still hold another
  preset's values, on the server when the form is posted (no script needed: the
  confirmation step shows them before anything is sent); an image that
  ``requires_ssh`` makes the SSH key required (contract §2.3 [I]).
- The registry password is never put back into a page from a stored spec: an update keeps
  the current one when the field is left empty, and a clone asks for it again. The one
  page that does echo it is the confirmation step, which must post it again unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.http import QueryDict

from controlpanel.core.text import plain_int
from controlpanel.credentials.models import ProviderAccount
from controlpanel.deployments.forms.base import (
    RowForm,
    VendorDeploymentForm,
    normalise_path,
    posted_rows,
    replace_posted_rows,
)
from providers.base import Offer as OfferData
from providers.base import ValidationContext
from providers.fluence import (
    BAREMETAL,
    CONTAINER,
    DEFAULT_PROTOCOL,
    ENV_MAX,
    EXPOSE_MAX,
    EXPOSE_MIN,
    HTTP_PORT,
    IMAGE_MAX,
    KIND_LABELS,
    NAME_MAX,
    PROTOCOLS,
    REGISTRY_HOSTS,
    RESERVED_ENV,
    STARTUP_COMMAND_MAX,
    VM,
)

MACHINES = (VM, BAREMETAL)
EXPOSE = "container_settings.expose"
ENVIRONMENT = "container_settings.environment"


class OptionAttrsSelect(forms.Select):
    """A select whose ``<option>``\\ s carry attributes of their own: ``option_attrs`` maps
    a value to them (here ``data-show-when``, so panel.js hides what the chosen plan lacks)."""

    def __init__(self, attrs: dict[str, Any] | None = None, choices: Any = ()) -> None:
        super().__init__(attrs, choices)
        self.option_attrs: dict[str, dict[str, str]] = {}

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        option["attrs"] = {**self.option_attrs.get(str(value), {}), **option["attrs"]}
        return option


def _money(value: Decimal | None) -> str:
    return f"${value:.2f}/h" if value is not None else "price not published"


def _gib(value: Any) -> str:
    return f"{value} GiB" if value not in (None, "") else ""


class FluenceMainForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        label="Fluence account",
        empty_label=None,
        help_text="Which of the team's Fluence keys pays, from its prepaid balance (USDC).",
    )
    kind = forms.ChoiceField(
        label="What to rent",
        choices=list(KIND_LABELS.items()),
        initial=CONTAINER,
        help_text=(
            "A container runs your image on a shared GPU host; a VM or bare-metal server is a whole "
            "machine you reach over SSH."
        ),
    )
    name = forms.CharField(
        help_text="1–25 lowercase letters, digits and hyphens, not at either end.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "llama-serve-01",
                "maxlength": NAME_MAX,
            }
        ),
    )
    # --- containers -----------------------------------------------------------------------
    plan_id = forms.ChoiceField(
        label="GPU plan",
        required=False,
        choices=(),
        widget=OptionAttrsSelect,
        help_text="GPUs, CPU, memory and disk of the container, and its price per hour.",
    )
    location = forms.CharField(
        required=False,
        widget=OptionAttrsSelect,
        help_text="A country the plan runs in. Any lets Fluence choose.",
    )
    default_image = forms.ChoiceField(
        label="Start from a default image",
        required=False,
        choices=(),
        help_text=(
            "Fluence's ready images. Fills in the image, ports, environment and startup command you have "
            "not set yourself; you see them when you review the cost."
        ),
    )
    image = forms.CharField(
        required=False,
        help_text=(
            f"Lowercase, up to {IMAGE_MAX} characters, public or from the private registry below: "
            "docker.io/fluencelabs/debian-ssh-root:11"
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "docker.io/library/ubuntu:24.04"}),
    )
    startup_command = forms.CharField(
        required=False,
        help_text=(
            f"Runs as the container's entrypoint; up to {STARTUP_COMMAND_MAX} characters. Empty keeps the image's own."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "placeholder": "python3 serve.py --port 8000"}),
    )
    registry_host = forms.CharField(
        label="Registry",
        required=False,
        # Text behind a select: any other host posted gets the rule's own message.
        widget=forms.Select(choices=[("", "None: a public image"), *((h, h) for h in REGISTRY_HOSTS)]),
        help_text=f"Only for a private image. Fluence logs in to {' or '.join(REGISTRY_HOSTS)}.",
    )
    registry_username = forms.CharField(
        label="Registry username", required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    registry_password = forms.CharField(
        label="Registry password or token",
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    # --- VMs and bare metal ------------------------------------------------------------------
    machine_plan_id = forms.ChoiceField(
        label="Offer",
        required=False,
        choices=(),
        widget=OptionAttrsSelect,
        help_text="One provider's machine in one data centre: GPUs, CPU, memory, disk and price per hour.",
    )
    os_image = forms.CharField(
        label="Operating system",
        required=False,
        widget=OptionAttrsSelect,
        help_text="Installed on the machine; each offer lists the ones it has.",
    )
    # --- every kind -------------------------------------------------------------------------
    ssh_key = forms.CharField(
        label="SSH public key",
        required=False,
        help_text=(
            "One public key line. Required for VMs and bare metal; for a container, images that run an SSH "
            "server need it (Fluence passes it in as SSH_PUBKEY)."
        ),
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "spellcheck": "false",
                "class": "mono",
                "placeholder": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI… you@laptop",
            }
        ),
    )


class PortRowForm(RowForm):
    port = forms.CharField(
        required=False,
        label="Port",
        widget=forms.TextInput(attrs={"placeholder": "22 or 5000-5005", "inputmode": "numeric", "spellcheck": "false"}),
    )
    protocol = forms.ChoiceField(
        required=False,
        initial=DEFAULT_PROTOCOL,
        choices=[(p, f"{p} (port {HTTP_PORT} only)" if p == "http" else p) for p in PROTOCOLS],
        widget=forms.Select(attrs={"aria-label": "Protocol"}),
    )

    def is_blank(self) -> bool:
        return not (getattr(self, "cleaned_data", {}) or {}).get("port")


class EnvRowForm(RowForm):
    name = forms.CharField(
        required=False,
        label="Variable",
        widget=forms.TextInput(attrs={"placeholder": "MODEL_PATH", "spellcheck": "false"}),
    )
    value = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "value", "spellcheck": "false"})
    )


class FluenceDeploymentForm(VendorDeploymentForm):
    vendor = "fluence"
    main_form = FluenceMainForm
    formsets = {"ports": (PortRowForm, EXPOSE), "env": (EnvRowForm, ENVIRONMENT)}
    # (title, intro, fields, which kinds it is for)
    kind_sections: list[tuple[str, str, list[str], tuple[str, ...]]] = [
        ("Basics", "Who pays, what you rent and its name.", ["account", "kind", "name"], ()),
        (
            "Plan",
            "A container plan from Fluence's marketplace; prices are per hour for the whole plan.",
            ["plan_id", "location"],
            (CONTAINER,),
        ),
        (
            "Machine",
            "A VM or bare-metal offer; the plan id is the offer itself, with its provider and data centre.",
            ["machine_plan_id", "os_image"],
            MACHINES,
        ),
        ("Container", "What runs in it.", ["default_image", "image", "startup_command"], (CONTAINER,)),
        (
            "Exposed ports",
            f"{EXPOSE_MIN} to {EXPOSE_MAX} ports reachable from outside; a range such as 5000-5005 "
            f"counts each port. Only port {HTTP_PORT} may be http (it gets a URL). "
            "Ports cannot change after deploying.",
            ["formset:ports"],
            (CONTAINER,),
        ),
        (
            "Environment",
            f"Up to {ENV_MAX} variables. {RESERVED_ENV} is Fluence's own: it carries the SSH key.",
            ["formset:env"],
            (CONTAINER,),
        ),
        (
            "Private registry",
            "Credentials for pulling a private image. Leave empty for a public one.",
            ["registry_host", "registry_username", "registry_password"],
            (CONTAINER,),
        ),
        ("Access", "How you log in.", ["ssh_key"], ()),
    ]
    sections = [(title, intro, names) for title, intro, names, _kinds in kind_sections]
    wide_fields = frozenset({"plan_id", "machine_plan_id", "default_image", "image", "startup_command", "ssh_key"})
    # Nothing but the name (and, for containers, the container settings) changes after deploying [V §2.8].
    immutable_fields = frozenset({"kind", "plan_id", "location", "machine_plan_id", "os_image"})
    path_to_field = {
        "kind": "kind",
        "name": "name",
        "container_settings.image": "image",
        "container_settings.startup_command": "startup_command",
        "container_settings.credentials": "registry_host",
        "container_settings.credentials.host": "registry_host",
        "container_settings.credentials.username": "registry_username",
        "container_settings.credentials.password": "registry_password",
        "constraints": "location",
        "constraints.location": "location",
        "ssh_key": "ssh_key",
        "os_image": "os_image",
    }

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        self.default_images = self._default_images(kwargs.get("accounts"), data, kwargs.get("initial"))
        if data is not None and not kwargs.get("editing"):
            data = self.apply_default_image(data)
        super().__init__(data, **kwargs)
        self.kept_password = (self.main.initial or {}).get("_registry_password", "")
        if self.editing:
            del self.main.fields["default_image"]
            if self.kept_password:
                self.main.fields["registry_password"].help_text = "Leave empty to keep the current one."
        else:
            self.main.fields["default_image"].choices = [("", "None: my own image")] + [
                (image["slug"], self.image_label(image)) for image in self.default_images
            ]
        if self.fixed and self.current_kind() in MACHINES:
            # A VM or bare-metal server takes only a new name [V §2.8].
            self.main.fields["ssh_key"].disabled = True
            self.main.fields["ssh_key"].help_text = "Fixed at creation: the vendor cannot change it."
            self.sets = {}  # no container settings to post
        if self.fixed and self.current_kind() == CONTAINER:
            # Ports stay as deployed [V §2.8]: shown, not editable; the spec keeps the original.
            self.main.fields["expose_summary"] = forms.CharField(
                label="Exposed ports",
                required=False,
                disabled=True,
                help_text="Fixed at creation: Fluence keeps the ports a container was deployed with.",
                initial=", ".join(
                    f"{p.get('port')}/{p.get('protocol', 'tcp')}" for p in (self.main.initial or {}).get("_expose", [])
                ),
            )
            del self.sets["ports"]  # nothing to post: the spec keeps the deployed ports

    # --- choices from the catalog and the key's metadata ---------------------------------------
    def setup_offers(self) -> None:
        plans = self.unique_offers(CONTAINER)
        plan_field = self.main.fields["plan_id"]
        plan_field.choices = [("", "Choose a plan…" if plans else self.NO_CATALOG)] + [
            (o.sku, self.plan_label(o)) for o in plans
        ]
        countries: dict[str, list[str]] = {}
        for offer in plans:
            for country in (offer.extra or {}).get("locations") or []:
                countries.setdefault(country, []).append(offer.sku)
        location = self.main.fields["location"]
        location.widget.choices = [("", "Any: Fluence chooses")] + [(c, c) for c in sorted(countries)]
        location.widget.option_attrs = {c: {"data-show-when": f"plan_id={','.join(s)}"} for c, s in countries.items()}

        machines = self.unique_offers(VM) + self.unique_offers(BAREMETAL)
        machine = self.main.fields["machine_plan_id"]
        machine.choices = [("", "Choose an offer…" if machines else self.NO_CATALOG)] + [
            (o.sku, self.machine_label(o)) for o in machines
        ]
        machine.widget.option_attrs = {o.sku: {"data-show-when": f"kind={o.kind}"} for o in machines}
        systems: dict[str, list[str]] = {}
        for offer in machines:
            for name in (offer.extra or {}).get("os_options") or []:
                systems.setdefault(name, []).append(offer.sku)
        os_field = self.main.fields["os_image"]
        os_field.widget.choices = [("", "Choose the operating system…")] + [(n, n) for n in sorted(systems)]
        os_field.widget.option_attrs = {
            n: {"data-show-when": f"machine_plan_id={','.join(s)}"} for n, s in systems.items()
        }
        # What a deployment already has stays a choice when editing or cloning, even if
        # the live marketplace no longer lists it.
        initial = self.main.initial or {}
        for name, field in (("plan_id", plan_field), ("machine_plan_id", machine)):
            current = initial.get(name)
            if current and current not in {value for value, _ in field.choices}:
                field.choices = [*field.choices, (current, f"{current} (not in the synced catalog)")]
        for name, field in (("location", location), ("os_image", os_field)):
            current = initial.get(name)
            if current and current not in {value for value, _ in field.widget.choices}:
                field.widget.choices = [*field.widget.choices, (current, current)]

    NO_CATALOG = "No plans yet: the catalog syncs when a Fluence key is verified"

    @staticmethod
    def plan_label(offer: OfferData) -> str:
        extra = offer.extra or {}
        memory = f"{offer.gpu_memory_gb} GB" if offer.gpu_memory_gb else ""
        gpu = " ".join(p for p in (offer.gpu_model, memory, (extra.get("interface") or "").upper()) if p)
        parts = [
            f"{offer.gpu_count}× {gpu}" if gpu else offer.name,
            f"{extra['vcpu']} vCPU" if extra.get("vcpu") else "",
            f"{_gib(extra.get('memory_gb'))} RAM" if extra.get("memory_gb") else "",
            f"{_gib(extra.get('storage_gb'))} disk" if extra.get("storage_gb") else "",
            ", ".join(extra.get("locations") or []),
            _money(offer.price_per_hour),
        ]
        return " · ".join(p for p in parts if p)

    @staticmethod
    def machine_label(offer: OfferData) -> str:
        extra = offer.extra or {}
        gpu = " ".join(p for p in (offer.gpu_model, f"{offer.gpu_memory_gb} GB" if offer.gpu_memory_gb else "") if p)
        parts = [
            KIND_LABELS.get(offer.kind, offer.kind),
            f"{offer.gpu_count}× {gpu}" if gpu else offer.name,
            "NVLink" if extra.get("nvlink") else "",
            _money(offer.price_per_hour),  # early: a long label is cut off in the closed select
            f"{extra['vcpu']} vCPU" if extra.get("vcpu") else "",
            f"{_gib(extra.get('memory_gb'))} RAM" if extra.get("memory_gb") else "",
            f"{_gib(extra.get('storage_gb'))} disk" if extra.get("storage_gb") else "",
            " in ".join(p for p in (extra.get("provider"), extra.get("location") or offer.location) if p),
        ]
        return " · ".join(p for p in parts if p)

    @staticmethod
    def image_label(image: dict[str, Any]) -> str:
        ports = ", ".join(f"{p.get('port')}/{p.get('protocol') or 'tcp'}" for p in image.get("expose") or [])
        parts = [image.get("name") or image["slug"], image.get("image", ""), f"ports {ports}" if ports else ""]
        if image.get("requires_ssh"):
            parts.append("needs an SSH key")
        return " · ".join(p for p in parts if p)

    @staticmethod
    def _default_images(accounts: Any, data: Any, initial: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Default images from the chosen key's metadata (all Fluence keys' until one is
        chosen), once per slug."""
        if accounts is None:
            return []
        keys = accounts.filter(vendor="fluence")
        chosen = (data.get("account") if data is not None else None) or (initial or {}).get("account")
        if chosen and plain_int(str(chosen)) is not None and keys.filter(pk=chosen).exists():
            keys = keys.filter(pk=chosen)
        images: dict[str, dict[str, Any]] = {}
        for metadata in keys.values_list("metadata", flat=True):
            for image in (metadata or {}).get("default_images") or []:
                if isinstance(image, dict) and image.get("slug") and image.get("image"):
                    images.setdefault(image["slug"], image)
        return list(images.values())

    # --- the default-image picker -------------------------------------------------------------
    def apply_default_image(self, data: Any) -> Any:
        """Fill what the chosen default image defines into the fields still empty or
        still holding another default image's values; leave what the user typed alone."""
        chosen = next((i for i in self.default_images if i["slug"] == data.get("default_image")), None)
        if chosen is None:
            return data
        others = [i for i in self.default_images if i is not chosen]
        filled = data.copy() if isinstance(data, QueryDict) else dict(data)

        def untouched(value: Any, key: str) -> bool:
            return value in (None, "", [], ()) or any(value == _preset_value(i, key) for i in others)

        if untouched((filled.get("image") or "").strip(), "image"):
            filled["image"] = chosen["image"]
        if untouched((filled.get("startup_command") or "").strip(), "startup_command"):
            filled["startup_command"] = chosen.get("startup_command") or ""
        for prefix, key, columns in (
            ("ports", "expose", ("port", "protocol")),
            ("env", "environment", ("name", "value")),
        ):
            rows = _rows(filled, prefix, columns)
            if untouched(rows, key):
                replace_posted_rows(filled, prefix, columns, _preset_value(chosen, key))
        return filled

    # --- building ---------------------------------------------------------------------------
    def current_kind(self) -> str:
        if self.main.is_bound and not self.main.fields["kind"].disabled:
            value = self.main.data.get("kind")
        else:
            value = (self.main.initial or {}).get("kind")
        return value if value in KIND_LABELS else CONTAINER

    def build_spec(self, data: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        kind = data.get("kind") if data.get("kind") in KIND_LABELS else CONTAINER
        spec: dict[str, Any] = {"kind": kind, "name": (data.get("name") or "").strip()}
        ssh_key = (data.get("ssh_key") or "").strip()
        if kind in MACHINES:
            # Every key of the VM / bare-metal body is required [V §2.5]: sent even when empty,
            # so that the rule names the field.
            spec.update(plan_id=data.get("machine_plan_id") or "", ssh_key=ssh_key, os_image=data.get("os_image") or "")
            return spec
        spec["plan_id"] = data.get("plan_id") or ""
        settings: dict[str, Any] = {"image": (data.get("image") or "").strip()}
        if self.fixed and "_expose" in (self.main.initial or {}):
            settings["expose"] = [dict(p) for p in self.main.initial["_expose"]]
        else:
            # A range ("5000-5005") goes as typed: the rules expand it and count its ports.
            settings["expose"] = [
                {"port": row["port"].strip(), "protocol": row.get("protocol") or DEFAULT_PROTOCOL}
                for row in rows.get("ports", [])
                if row.get("port")
            ]
        env = [{"name": (r.get("name") or "").strip(), "value": r.get("value") or ""} for r in rows.get("env", [])]
        if env:
            settings["environment"] = env
        startup = (data.get("startup_command") or "").strip()
        if startup:
            settings["startup_command"] = startup
        credentials = self.credentials(data)
        if credentials:
            settings["credentials"] = credentials
        spec["container_settings"] = settings
        if data.get("location"):
            spec["constraints"] = {"location": data["location"]}
        if ssh_key:
            spec["ssh_key"] = ssh_key
        return spec

    def credentials(self, data: dict[str, Any]) -> dict[str, str]:
        host = (data.get("registry_host") or "").strip()
        username = (data.get("registry_username") or "").strip()
        password = data.get("registry_password") or ""
        kept = self.main.initial or {}
        if (
            not password
            and self.kept_password
            and (host, username) == (kept.get("registry_host", ""), kept.get("registry_username", ""))
        ):
            password = self.kept_password  # an update that leaves the field empty keeps the current one
        if not (host or username or password):
            return {}
        return {"host": host, "username": username, "password": password}

    @classmethod
    def initial_from_spec(cls, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        kind = spec.get("kind") if spec.get("kind") in KIND_LABELS else CONTAINER
        initial: dict[str, Any] = {"kind": kind, "name": spec.get("name", "")}
        if spec.get("ssh_key"):
            initial["ssh_key"] = spec["ssh_key"]
        if kind in MACHINES:
            initial.update(machine_plan_id=spec.get("plan_id", ""), os_image=spec.get("os_image", ""))
            return initial, {}
        settings = spec.get("container_settings") or {}
        initial.update(
            plan_id=spec.get("plan_id", ""),
            location=(spec.get("constraints") or {}).get("location", ""),
            image=settings.get("image", ""),
            startup_command=settings.get("startup_command") or "",
            _expose=[dict(p) for p in settings.get("expose") or []],
        )
        credentials = settings.get("credentials") or {}
        if credentials:
            # The password is kept aside, never a field's initial value: it is not rendered.
            initial.update(
                registry_host=credentials.get("host", ""),
                registry_username=credentials.get("username", ""),
                _registry_password=credentials.get("password", ""),
            )
        rows = {
            "ports": [{"port": p.get("port", ""), "protocol": p.get("protocol") or "tcp"} for p in initial["_expose"]],
            "env": [
                {"name": e.get("name", ""), "value": e.get("value", "")} for e in settings.get("environment") or []
            ],
        }
        return initial, rows

    # --- validation ---------------------------------------------------------------------------
    def validation_context(self) -> ValidationContext:
        """The catalog (plan still offered, location among the plan's, OS image among the
        option's) and the key's default images (``requires_ssh``), for the rules."""
        return ValidationContext(offers=tuple(self.offers), metadata={"default_images": self.default_images})

    def accept(self, spec: dict[str, Any]) -> bool:
        if not self.editing:
            # The confirmation step posts every field again, the password too.
            self.main.fields["registry_password"].widget.render_value = True
        return True

    def _field_for_path(self, path: str) -> tuple[forms.Form, str | None]:
        path = normalise_path(path)
        if path == "plan_id":
            return self.main, "machine_plan_id" if self.current_kind() in MACHINES else "plan_id"
        if (path == EXPOSE or path.startswith(EXPOSE + ".")) and "ports" not in self.sets:
            return self.main, "expose_summary"  # a deployed container's ports: fixed
        if path in (EXPOSE, ENVIRONMENT):
            # About the whole list (none, too many): on its first row.
            prefix, leaf = ("ports", "port") if path == EXPOSE else ("env", "name")
            rows = self.sets[prefix].non_blank_forms() or self.sets[prefix].forms
            return (rows[0], leaf) if rows else (self.main, None)
        if path.startswith(EXPOSE + ".") and path.count(".") == 2:
            path += ".port"  # an entry that is not a port and a protocol: on its port
        return super()._field_for_path(path)

    # --- money --------------------------------------------------------------------------------
    def scale_estimate(self, spec: dict[str, Any], unit: Decimal | None) -> dict[str, Any]:
        if unit is None:
            return {}
        note = "Billed by the hour from the account's prepaid balance, for as long as it runs."
        for charge in self.provider_class.upfront_charges(spec, self.offers):
            note += f" On create: {charge.amount:.2f} {charge.currency}. {charge.description}"
        return {
            "low": unit,
            "high": unit,
            "low_replicas": 1,
            "high_replicas": 1,
            "unit_label": "instance",
            "note": note,
        }

    # --- rendering ------------------------------------------------------------------------------
    def rendered_sections(self) -> list[dict[str, Any]]:
        """The base's sections, each marked with the kinds it is for (the page hides the
        others), and the fixed ports of a deployed container as one read-only field."""
        out = []
        for title, intro, names, kinds in self.kind_sections:
            items: list[dict[str, Any]] = []
            for name in names:
                if name.startswith("formset:"):
                    prefix = name.split(":", 1)[1]
                    if prefix in self.sets:
                        items.append({"formset": self.sets[prefix], "prefix": prefix})
                    elif prefix == "ports" and "expose_summary" in self.main.fields:
                        items.append({"field": self.main["expose_summary"]})
                elif name in self.main.fields:
                    items.append({"field": self.main[name]})
            if items:
                section = {"title": title, "intro": intro, "items": items}
                if kinds:
                    section["show_when"] = "kind=" + ",".join(kinds)
                out.append(section)
        return out


def _preset_value(image: dict[str, Any], key: str) -> Any:
    """A default image's value for a form field, in the shape the form holds it."""
    if key == "image":
        return image.get("image") or ""
    if key == "startup_command":
        return image.get("startup_command") or ""
    if key == "expose":
        return [(str(p.get("port", "")), p.get("protocol") or "tcp") for p in image.get("expose") or []]
    # The key's metadata keeps variable names only (values may be secrets): the rows get
    # the names to fill in. SSH_PUBKEY is Fluence's to set from the SSH key [V §2.4].
    rows = []
    for item in image.get("environment") or []:
        name, value = (item.get("name", ""), item.get("value") or "") if isinstance(item, dict) else (str(item), "")
        if name and name != RESERVED_ENV:
            rows.append((name, value))
    return rows


def _rows(data: Any, prefix: str, columns: tuple[str, str]) -> list[tuple[str, str]]:
    """The posted rows that name something (a port, a variable), protocol tcp by default."""
    return [
        (first.strip(), second or ("tcp" if prefix == "ports" else ""))
        for first, second in posted_rows(data, prefix, columns)
        if first.strip()
    ]


FORM = FluenceDeploymentForm
