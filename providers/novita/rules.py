"""Novita's rules for a create body (contract §2.3 and §5): :func:`check_spec` returns it
normalised, optional keys left out when empty (``None``, ``""``, ``[]``), or raises
:class:`SpecError` keyed by spec path (``gpuNum``, ``ports``, ``envs.0.key``,
``tools.0.port``, ``networkStorages.0.mountPoint``...).

It is composed of one check per section of the body (texts, ports and tools, envs,
network storages, GPU or CPU settings) and, with the account's catalog, the chosen
product's rules (:func:`check_product`). Where the notes leave a fact open the safest
reading is taken and named in a comment ([I]).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from providers.base import Offer, SpecError
from providers.coerce import is_empty, text, whole
from providers.novita.fields import (
    AUTO_RENEW_MONTHS,
    BILLING_LABELS,
    BILLING_MODES,
    COMMAND_MAX,
    CPU_ENVS_MAX,
    CREATE_FIELDS,
    CUDA_MAX,
    CUDA_RE,
    DEFAULT_MOUNT_POINT,
    ENV_KEY_MAX,
    ENV_VALUE_MAX,
    ENVS_MAX,
    GPU_NUM,
    GPU_ONLY_FIELDS,
    IMAGE_AUTH_MAX,
    IMAGE_URL_MAX,
    KINDS,
    MAX_PORTS_AND_TOOLS,
    MOUNT_POINT_MAX,
    NAME_MAX,
    NAME_RE,
    NETWORK_STORAGES_MAX,
    PORT_TYPES,
    PRODUCT_ID_MAX,
    ROOTFS,
    TOOL_NAMES,
    billing_mode,
    format_ports,
    offer_for,
    parse_ports,
    port_problem,
)

REQUIRED = "This field is required."


class Problems(dict[str, list[str]]):
    """Messages by spec path, in the order they were found."""

    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


def check_spec(
    spec: Mapping[str, Any],
    *,
    offers: Iterable[Offer] = (),
    metadata: Mapping[str, Any] | None = None,
    existing: bool = False,
) -> dict[str, Any]:
    """Check a create body and return it normalised. With ``offers`` (and ``metadata``)
    the chosen product's rules apply too (:func:`check_product`); ``existing`` skips the
    capacity check for an instance that exists."""
    if not isinstance(spec, Mapping):
        raise SpecError({"": ["A Novita spec is a JSON object (the create request)."]})
    problems = Problems()
    for key in spec:
        if key not in CREATE_FIELDS:
            problems.add(key, f"Novita's create request has no field “{key}”.")
    kind = spec.get("kind") or "gpu"  # required [V]; the panel's forms build GPU instances
    if kind not in KINDS:
        problems.add("kind", "Choose gpu or cpu.")
    values: dict[str, Any] = {"kind": kind, **_texts(spec, problems)}
    ports, values["tools"] = _ports_and_tools(spec, problems)
    values["ports"] = format_ports(ports)
    values["envs"] = _envs(spec, problems, limit=CPU_ENVS_MAX if kind == "cpu" else ENVS_MAX)
    values["networkStorages"] = _network_storages(spec, problems)
    if kind == "gpu":
        values.update(_gpu_settings(spec, problems))
    elif kind == "cpu":
        values.update(_cpu_settings(spec, problems))
    if not problems:
        offer = offer_for({"productId": values["productId"]}, offers)
        if offer is not None:
            candidate = {
                **spec,
                "kind": kind,
                "clusterId": values["clusterId"],
                "networkStorages": values["networkStorages"],
            }
            problems.update(check_product(candidate, offer, metadata=metadata, existing=existing))
    if problems:
        raise SpecError(problems)
    return {key: values[key] for key in CREATE_FIELDS if not is_empty(values.get(key))}


def _string(spec: Mapping[str, Any], key: str, problems: Problems, *, limit: int, required: bool = False) -> str:
    value = spec.get(key)
    if value is None or value == "":
        if required:
            problems.add(key, REQUIRED)
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key in ("clusterId", "imageAuthId"):
        value = str(value)  # ids sent as numbers by hand-written specs
    if not isinstance(value, str):
        problems.add(key, "Must be text.")
        return ""
    if len(value) > limit:
        problems.add(key, f"At most {limit} characters.")
    return value


def _texts(spec: Mapping[str, Any], problems: Problems) -> dict[str, str]:
    """The text fields: name, product, image and its credentials, command, cluster..."""
    name = _string(spec, "name", problems, limit=NAME_MAX)
    if name and not NAME_RE.match(name):
        problems.add("name", "Use letters, digits and hyphens only.")  # [C] safest reading
    product = _string(spec, "productId", problems, limit=PRODUCT_ID_MAX, required=True).strip()
    image = _string(spec, "imageUrl", problems, limit=IMAGE_URL_MAX, required=True).strip()
    if image and any(c.isspace() for c in image):
        problems.add("imageUrl", "An image reference has no spaces.")
    image_auth = _string(spec, "imageAuth", problems, limit=IMAGE_AUTH_MAX)
    image_auth_id = _string(spec, "imageAuthId", problems, limit=255).strip()
    if image_auth:
        user, sep, password = image_auth.partition(":")
        if not sep or not user or not password:
            problems.add("imageAuth", "Registry credentials are username:password.")
        if image_auth_id:
            problems.add("imageAuth", "Give a saved registry credential or username:password, not both.")
    command = _string(spec, "command", problems, limit=COMMAND_MAX)
    entrypoint = _string(spec, "entrypoint", problems, limit=COMMAND_MAX)
    cluster = _string(spec, "clusterId", problems, limit=255).strip()
    network = _string(spec, "networkId", problems, limit=255).strip()
    cuda = _string(spec, "minCudaVersion", problems, limit=CUDA_MAX).strip()
    if cuda and not CUDA_RE.match(cuda):
        problems.add("minCudaVersion", "A CUDA version like 12.4.")
    return {
        "name": name.strip(),
        "productId": product,
        "imageUrl": image,
        "imageAuth": image_auth,
        "imageAuthId": image_auth_id,
        "command": command,
        "entrypoint": entrypoint,
        "clusterId": cluster,
        "networkId": network,
        "minCudaVersion": cuda,
    }


def _list_of(spec: Mapping[str, Any], key: str, problems: Problems, shape: str) -> list[Any]:
    """``spec[key]`` as a list; anything else but nothing is a problem."""
    value = spec.get(key)
    if not is_empty(value) and not isinstance(value, list):
        problems.add(key, f"A list of {shape}.")
        return []
    return value or []


def _ports_and_tools(spec: Mapping[str, Any], problems: Problems) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Ports (a string on create [V]) and tools share the 15-port budget and the port rules."""
    port_rows, port_problems = parse_ports(spec.get("ports"))
    for problem in port_problems:
        problems.add("ports", problem)
    seen_ports: set[int] = set()
    for row in port_rows:
        if row["port"] in seen_ports:
            problems.add("ports", f"{row['port']} is listed twice.")  # [I]
        seen_ports.add(row["port"])
    tools_out: list[dict[str, str]] = []
    for i, tool in enumerate(_list_of(spec, "tools", problems, "{name, port, type}")):
        if not isinstance(tool, Mapping):
            problems.add(f"tools.{i}", "A tool is {name, port, type}.")
            continue
        tools_out.append(_tool(i, tool, seen_ports, problems))
    if len(port_rows) + len(tools_out) > MAX_PORTS_AND_TOOLS:
        problems.add("ports", f"At most {MAX_PORTS_AND_TOOLS} ports, Jupyter included.")
    return port_rows, tools_out


def _tool(i: int, tool: Mapping[str, Any], seen_ports: set[int], problems: Problems) -> dict[str, str]:
    """One tool: a name Novita offers and a port not already exposed; ports go as text."""
    tool_name = tool.get("name")
    if tool_name not in TOOL_NAMES:
        problems.add(f"tools.{i}.name", f"Novita's tools: {', '.join(TOOL_NAMES)}.")
    port = whole(tool.get("port"))
    problem = port_problem(tool.get("port")) if tool.get("port") not in (None, "") else REQUIRED
    if problem:
        problems.add(f"tools.{i}.port", problem)
    elif port in seen_ports:
        problems.add(f"tools.{i}.port", f"{port} is already exposed as a port.")
    elif port is not None:
        seen_ports.add(port)
    tool_type = tool.get("type")
    if tool_type not in PORT_TYPES:
        problems.add(f"tools.{i}.type", "tcp or http.")
    return {"name": str(tool_name or ""), "port": str(port if port is not None else ""), "type": str(tool_type or "")}


def _envs(spec: Mapping[str, Any], problems: Problems, *, limit: int) -> list[dict[str, str]]:
    """``envs[{key, value}]``: at most 100 on a GPU instance, 30 on a CPU one [V]."""
    envs = _list_of(spec, "envs", problems, "{key, value}")
    if len(envs) > limit:
        problems.add("envs", f"At most {limit} environment variables.")
    out: list[dict[str, str]] = []
    keys: set[str] = set()
    for i, env in enumerate(envs):
        if not isinstance(env, Mapping):
            problems.add(f"envs.{i}", "A variable is {key, value}.")
            continue
        key, value = env.get("key"), env.get("value", "")
        if value is None:
            value = ""
        if not isinstance(key, str) or not key.strip():
            problems.add(f"envs.{i}.key", "A variable needs a name.")  # [I] the page allows 0 characters
        elif len(key) > ENV_KEY_MAX:
            problems.add(f"envs.{i}.key", f"At most {ENV_KEY_MAX} characters.")
        elif "=" in key or any(c.isspace() for c in key):
            problems.add(f"envs.{i}.key", "A name has no spaces and no “=”.")  # [I] what a container can take
        elif key in keys:
            problems.add(f"envs.{i}.key", f"{key} is set twice.")  # [I]
        else:
            keys.add(key)
        if not isinstance(value, str):
            problems.add(f"envs.{i}.value", "Must be text.")
        elif len(value) > ENV_VALUE_MAX:
            problems.add(f"envs.{i}.value", f"At most {ENV_VALUE_MAX} characters.")
        out.append({"key": key if isinstance(key, str) else "", "value": value if isinstance(value, str) else ""})
    return out


def _network_storages(spec: Mapping[str, Any], problems: Problems) -> list[dict[str, str]]:
    """``networkStorages[{Id, mountPoint}]``, the mount point ``/network`` by default [V].

    With no clusterId Novita picks a cluster at random, perhaps not the volumes' one; the
    notes' own example does exactly that, so it is left to Novita to refuse [C]."""
    storages = _list_of(spec, "networkStorages", problems, "{Id, mountPoint}")
    if len(storages) > NETWORK_STORAGES_MAX:
        problems.add("networkStorages", f"At most {NETWORK_STORAGES_MAX} network volumes.")
    out: list[dict[str, str]] = []
    ids: set[str] = set()
    mounts: set[str] = set()
    for i, volume in enumerate(storages):
        if not isinstance(volume, Mapping):
            problems.add(f"networkStorages.{i}", "A volume is {Id, mountPoint}.")
            continue
        volume_id = text(volume.get("Id"))  # capital I [V]
        mount = volume.get("mountPoint")
        mount = DEFAULT_MOUNT_POINT if mount in (None, "") else mount
        if not volume_id:
            problems.add(f"networkStorages.{i}.Id", "Choose a network volume.")
        elif volume_id in ids:
            problems.add(f"networkStorages.{i}.Id", "This volume is mounted twice.")  # [I]
        ids.add(volume_id)
        if not isinstance(mount, str) or not mount.startswith("/"):
            problems.add(f"networkStorages.{i}.mountPoint", "An absolute path, e.g. /network.")  # [I]
        elif len(mount) > MOUNT_POINT_MAX:
            problems.add(f"networkStorages.{i}.mountPoint", f"At most {MOUNT_POINT_MAX} characters.")
        elif mount in mounts:
            problems.add(f"networkStorages.{i}.mountPoint", "Another volume is mounted here.")  # [I]
        else:
            mounts.add(mount)
        out.append({"Id": volume_id, "mountPoint": mount if isinstance(mount, str) else ""})
    return out


def _gpu_settings(spec: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """GPUs, root disk and billing; a GPU instance has no local storage mount point."""
    gpu_num = whole(spec.get("gpuNum"))
    if spec.get("gpuNum") in (None, ""):
        problems.add("gpuNum", REQUIRED)
    elif gpu_num is None or not GPU_NUM[0] <= gpu_num <= GPU_NUM[1]:
        problems.add("gpuNum", f"{GPU_NUM[0]} to {GPU_NUM[1]} GPUs.")
    rootfs = whole(spec.get("rootfsSize"))
    if spec.get("rootfsSize") in (None, ""):
        problems.add("rootfsSize", REQUIRED)
    elif rootfs is None or not ROOTFS[0] <= rootfs <= ROOTFS[1]:
        # Novita raises less than 10 to 10 [V]; said here rather than changed silently.
        problems.add("rootfsSize", f"{ROOTFS[0]} to {ROOTFS[1]} GB.")
    billing = _billing(spec, problems)
    if spec.get("localStorageMountPoint") not in (None, ""):
        problems.add("localStorageMountPoint", "Only CPU instances have a local storage mount point.")
    return {"gpuNum": gpu_num, "rootfsSize": rootfs, **billing}


def _billing(spec: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """``billingMode``, ``month`` and the auto-renewal of a GPU instance."""
    mode = spec.get("billingMode")
    if mode not in (None, "") and mode not in BILLING_MODES:
        problems.add("billingMode", "onDemand, monthly or spot.")
        mode = None
    month = None
    if spec.get("month") not in (None, ""):
        month = whole(spec.get("month"))
        if month is None or month < 0:
            problems.add("month", "Whole months, 0 or more.")
            month = None
    effective = billing_mode({"billingMode": mode, "month": month})
    if effective == "monthly" and not month:
        problems.add("month", "Monthly billing needs at least 1 month.")  # [I] month 0 means pay-as-you-go
    elif month and mode in ("onDemand", "spot"):
        # Novita would switch to monthly [V]; said here rather than done behind the user's back.
        problems.add("month", "Months apply to monthly billing only: set 0, or choose monthly.")
    auto_renew = spec.get("autoRenew")
    if auto_renew not in (None, ""):
        if not isinstance(auto_renew, bool):
            problems.add("autoRenew", "Yes or no.")
        elif auto_renew and effective != "monthly":
            problems.add("autoRenew", "Auto-renew applies to monthly billing only.")
    auto_renew_month = None
    if spec.get("autoRenewMonth") not in (None, ""):
        auto_renew_month = whole(spec.get("autoRenewMonth"))
        if auto_renew is not True:
            problems.add("autoRenewMonth", "Only with auto-renew.")
        elif auto_renew_month is None or not AUTO_RENEW_MONTHS[0] <= auto_renew_month <= AUTO_RENEW_MONTHS[1]:
            problems.add("autoRenewMonth", f"{AUTO_RENEW_MONTHS[0]} to {AUTO_RENEW_MONTHS[1]} months.")
    elif auto_renew is True and effective == "monthly":
        # [I] the page gives no default; renewing for an unstated term is not safe.
        problems.add("autoRenewMonth", "Say for how many months it renews (1 to 12).")
    return {
        "month": month,
        "billingMode": mode or None,
        "autoRenew": auto_renew if isinstance(auto_renew, bool) else None,
        "autoRenewMonth": auto_renew_month,
    }


def _cpu_settings(spec: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """A CPU instance has none of the GPU settings and may name its local mount point."""
    for key in GPU_ONLY_FIELDS:
        if not is_empty(spec.get(key)):
            problems.add(key, "CPU instances have no such setting.")
    local_mount = spec.get("localStorageMountPoint")
    if local_mount not in (None, "") and (
        not isinstance(local_mount, str) or not local_mount.startswith("/") or len(local_mount) > MOUNT_POINT_MAX
    ):
        problems.add("localStorageMountPoint", "An absolute path of at most 4095 characters, e.g. /workspace.")
    return {"localStorageMountPoint": local_mount}


# --- the chosen product's rules ------------------------------------------------------------


def cluster_in_regions(cluster_id: str, regions: Iterable[str], clusters: Iterable[Mapping[str, Any]] = ()) -> bool:
    """Whether a cluster is among a product's regions. Regions are cluster *names* like
    ``"US-CA-06 (California)"`` [C] while create takes a cluster id: the id is matched
    through ``/clusters`` (``{id, name}``) on the name before any parenthesis [I]. An
    empty region list means every cluster [V]; an id that cannot be named is let through
    (Novita decides)."""
    regions = [str(r) for r in regions if r]
    if not regions or not cluster_id:
        return True
    names = {cluster_id}
    known = False
    for cluster in clusters:
        if str(cluster.get("id")) == cluster_id:
            known = True
            if cluster.get("name"):
                names.add(str(cluster["name"]))
    stems = {n.split(" (")[0].strip().lower() for n in names}
    if any(r.split(" (")[0].strip().lower() in stems for r in regions):
        return True
    return not known


def check_product(
    spec: Mapping[str, Any],
    offer: Offer,
    *,
    metadata: Mapping[str, Any] | None = None,
    existing: bool = False,
) -> dict[str, list[str]]:
    """The rules that depend on the chosen product (contract §5): capacity (new instances
    only), the rootfs window, the billing modes it is sold in, its regions. ``metadata``
    is ``account_metadata()``: its clusters name the regions, its network storages give
    each volume's cluster."""
    problems = Problems()
    extra = offer.extra or {}
    gpu = spec.get("kind", "gpu") == "gpu"
    if not existing and not offer.available:
        problems.add("productId", f"{offer.name} has no capacity now: choose another product.")
    rootfs = whole(spec.get("rootfsSize"))
    low = max(ROOTFS[0], whole(extra.get("minRootFS")) or 0)
    high = min(ROOTFS[1], whole(extra.get("maxRootFS")) or ROOTFS[1])
    if rootfs is not None and gpu and not low <= rootfs <= high:
        problems.add("rootfsSize", f"{offer.name} takes a root disk of {low}–{high} GB.")
    methods = [str(m) for m in extra.get("billingMethods") or []]
    if methods and gpu and billing_mode(spec) not in methods:
        sold = ", ".join(BILLING_LABELS.get(m, m).split(":")[0].lower() for m in methods)
        problems.add("billingMode", f"{offer.name} is sold {sold} only.")
    cluster = text(spec.get("clusterId")) if not isinstance(spec.get("clusterId"), int) else str(spec["clusterId"])
    clusters = list((metadata or {}).get("clusters") or [])
    if cluster and not cluster_in_regions(cluster, extra.get("regions") or [], clusters):
        problems.add(
            "clusterId", f"{offer.name} is not sold in this cluster; it is in: {', '.join(extra.get('regions') or [])}."
        )
    _volumes_in_cluster(spec, cluster, metadata or {}, problems)
    return problems


def _volumes_in_cluster(spec: Mapping[str, Any], cluster: str, metadata: Mapping[str, Any], problems: Problems) -> None:
    """Novita mounts volumes of the instance's cluster only [V]."""
    storages = {str(s.get("id")): s for s in metadata.get("network_storages") or [] if s.get("id")}
    for i, volume in enumerate(spec.get("networkStorages") or []):
        known = storages.get(str(volume.get("Id"))) if isinstance(volume, Mapping) else None
        if known and cluster and known.get("cluster_id") not in (None, "") and str(known["cluster_id"]) != cluster:
            problems.add(
                f"networkStorages.{i}.Id",
                f"The volume {known.get('name') or volume.get('Id')} is in another cluster "
                f"({known.get('cluster_name') or known['cluster_id']}): Novita mounts volumes of the instance's cluster only.",
            )
