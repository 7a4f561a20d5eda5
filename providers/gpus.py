"""One name per GPU model, whatever the vendor calls it.

Each vendor spells GPUs its own way: Together "NVIDIA H100 80GB", Nosana "NVIDIA GeForce
RTX 4090" or "NVIDIA H100 80GB HBM3", Fluence "h100" or "rtx4090" (memory apart, as
"80Gi"), Novita "H100 SXM 80GB", Replicate "Nvidia A100 (80GB) GPU". ``normalise_gpu``
reads any of them as a :class:`GpuModel` (family and memory per GPU), so the Prices page
lists "H100 80GB" once across vendors. Plain Python: no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    family: str  # "H100", "RTX 4090", "RTX A6000", "RTX 6000 Ada"
    memory_gb: int | None = None  # per GPU
    variant: str = ""  # "MIG" for a slice of a GPU

    @property
    def display_name(self) -> str:
        """``H100 80GB``; ``A100`` when the memory is not known; ``H100 40GB MIG``."""
        parts = [self.family]
        if self.memory_gb:
            parts.append(f"{self.memory_gb}GB")
        if self.variant:
            parts.append(self.variant)
        return " ".join(parts)

    def __str__(self) -> str:
        return self.display_name


# Families made in one memory size only: their memory is known from the name alone.
# (A100, V100, A10 and others come in several, so they stay as the vendor said.)
ONE_SIZE_GB: dict[str, int] = {
    "B200": 192,
    "H200": 141,
    "GH200": 96,
    "H100": 80,
    "L40S": 48,
    "L40": 48,
    "A40": 48,
    "L4": 24,
    "T4": 16,
    "A10G": 24,
    "A30": 24,
    "RTX A6000": 48,
    "RTX 6000 Ada": 48,
    "RTX A5000": 24,
    "RTX A4000": 16,
    "RTX 5090": 32,
    "RTX 4090": 24,
    "RTX 4080": 16,
    "RTX 4070": 12,
    "RTX 4060": 8,
    "RTX 3090": 24,
    "RTX 3090 Ti": 24,
    "RTX 3080 Ti": 12,
    "RTX 3070": 8,
    "RTX 3060 Ti": 8,
}  # fmt: skip  -- a table: one line per GPU family reads like the vendors' spec sheets

_NOISE = re.compile(r"\b(NVIDIA|GeForce|GPU|SXM\d?|PCIe|NVL|HBM\d?e?|Large|Small)\b", re.IGNORECASE)
_MEMORY = re.compile(r"(\d{1,3})\s*(?:GB|GiB|Gi)\b", re.IGNORECASE)
_DATACENTER = re.compile(
    r"(?<![A-Z0-9])(GB200|GH200|B200|B100|H200|H100|H800|H20|A100|A800|A40|A30|A10G|A10|L40S|L40|L20|L4|V100|P100|T4)"
    r"(?![A-Z0-9])",
    re.IGNORECASE,
)
_WORKSTATION = re.compile(r"(?<![A-Z0-9])(?:RTX[\s_-]*)?A(\d{4})(?!\d)", re.IGNORECASE)
_ADA = re.compile(r"(?<![A-Z0-9])(?:RTX[\s_-]*)?(\d{4})[\s_-]*Ada(?![A-Z])", re.IGNORECASE)
_CONSUMER = re.compile(r"(?<![A-Z0-9])(?:RTX|GTX)?[\s_-]*(\d{4})(?:[\s_-]*(Ti|Super))?(?![0-9])", re.IGNORECASE)


def normalise_gpu(name: str | None, memory_gb: int | None = None) -> GpuModel | None:
    """The GPU ``name`` is about, or ``None`` when it names none (Replicate's "CPU").

    ``memory_gb`` is what the vendor reported apart from the name (Fluence's ``vram``,
    Nosana's ``lowest_vram``); a size written in the name wins.
    """
    text = str(name or "").replace("_", " ")
    if not text.strip():
        return None
    written = _MEMORY.search(text)
    memory = int(written.group(1)) if written else memory_gb
    variant = "MIG" if re.search(r"\bMIG\b", text, re.IGNORECASE) else ""
    text = _NOISE.sub(" ", _MEMORY.sub(" ", text))
    family = _family(text)
    if family is None:
        return None
    if not memory:
        memory = ONE_SIZE_GB.get(family)
    return GpuModel(family=family, memory_gb=memory or None, variant=variant)


def _family(text: str) -> str | None:
    if found := _DATACENTER.search(text):
        return found.group(1).upper()
    if found := _ADA.search(text):
        return f"RTX {found.group(1)} Ada"
    if found := _WORKSTATION.search(text):
        return f"RTX A{found.group(1)}"
    if found := _CONSUMER.search(text):
        suffix = {"ti": " Ti", "super": " Super"}.get((found.group(2) or "").lower(), "")
        return f"RTX {found.group(1)}{suffix}"
    return None


def gpu_display_name(name: str | None, memory_gb: int | None = None) -> str:
    """``normalise_gpu(...).display_name``, or the name as given when it names no GPU."""
    model = normalise_gpu(name, memory_gb)
    return model.display_name if model else " ".join(str(name or "").split())
