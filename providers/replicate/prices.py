"""Replicate's hardware prices: not in the API, so a maintained table.

``GET /hardware`` lists ``{name, sku}`` only [V]; the per-second rates come from the
published pricing pages, and ``hourly_rate`` prefers the account's synced catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Hardware:
    name: str
    per_second: Decimal
    per_hour: Decimal
    gpu_model: str = ""
    gpu_count: int = 0
    gpu_memory_gb: int | None = None  # per GPU
    cpus: int | None = None
    ram_gb: int | None = None
    note: str = ""


PRICES_SOURCE = "replicate.com/pricing and replicate.com/docs/billing (hardware tables)"
_H100_NOTE = "Additional H100 capacity is reserved for committed-spend contracts."
# sku: per-second and per-hour USD for one instance, as published; GPUs, GPU RAM, CPUs, RAM
# from the same table (the H100 rows give no CPU/RAM figures; 80 GB per H100 is [I]).
# Multi-GPU names follow three styles (notes §2): -large-Nx, gpu-Nx-l40s and gpu-h100-Nx.
# The one `fmt: skip` kept on purpose: one line per sku, read like a row of the published
# table, is how a reader checks a price against the page (formatted, each row is 11 lines).
HARDWARE_PRICES: dict[str, Hardware] = {
    "cpu": Hardware("CPU", Decimal("0.000100"), Decimal("0.36"), "", 0, None, 4, 8),
    "gpu-t4": Hardware("Nvidia T4 GPU", Decimal("0.000225"), Decimal("0.81"), "T4", 1, 16, 4, 16),
    "gpu-a40-small": Hardware("Nvidia A40 GPU", Decimal("0.000575"), Decimal("2.07"), "A40", 1, 48, 4, 16),
    "gpu-a40-large": Hardware("Nvidia A40 (Large) GPU", Decimal("0.000725"), Decimal("2.61"), "A40", 1, 48, 10, 72),
    "gpu-a40-large-2x": Hardware("2x Nvidia A40 (Large) GPU", Decimal("0.001450"), Decimal("5.22"), "A40", 2, 48, 20, 144),
    "gpu-a40-large-4x": Hardware("4x Nvidia A40 (Large) GPU", Decimal("0.002900"), Decimal("10.44"), "A40", 4, 48, 40, 288),
    "gpu-a40-large-8x": Hardware("8x Nvidia A40 (Large) GPU", Decimal("0.005800"), Decimal("20.88"), "A40", 8, 48, 48, 680),
    "gpu-l40s": Hardware("Nvidia L40S GPU", Decimal("0.000975"), Decimal("3.51"), "L40S", 1, 48, 10, 65),
    "gpu-2x-l40s": Hardware("2x Nvidia L40S GPU", Decimal("0.001950"), Decimal("7.02"), "L40S", 2, 48, 20, 144),
    "gpu-4x-l40s": Hardware("4x Nvidia L40S GPU", Decimal("0.003900"), Decimal("14.04"), "L40S", 4, 48, 40, 288),
    "gpu-8x-l40s": Hardware("8x Nvidia L40S GPU", Decimal("0.007800"), Decimal("28.08"), "L40S", 8, 48, 80, 576),
    "gpu-a100-large": Hardware("Nvidia A100 (80GB) GPU", Decimal("0.001400"), Decimal("5.04"), "A100", 1, 80, 10, 144),
    "gpu-a100-large-2x": Hardware("2x Nvidia A100 (80GB) GPU", Decimal("0.002800"), Decimal("10.08"), "A100", 2, 80, 20, 288),
    "gpu-a100-large-4x": Hardware("4x Nvidia A100 (80GB) GPU", Decimal("0.005600"), Decimal("20.16"), "A100", 4, 80, 40, 576),
    "gpu-a100-large-8x": Hardware("8x Nvidia A100 (80GB) GPU", Decimal("0.011200"), Decimal("40.32"), "A100", 8, 80, 80, 960),
    "gpu-h100": Hardware("Nvidia H100 GPU", Decimal("0.001525"), Decimal("5.49"), "H100", 1, 80, note=_H100_NOTE),
    "gpu-h100-2x": Hardware("2x Nvidia H100 GPU", Decimal("0.003050"), Decimal("10.98"), "H100", 2, 80, note=_H100_NOTE),
    "gpu-h100-4x": Hardware("4x Nvidia H100 GPU", Decimal("0.006100"), Decimal("21.96"), "H100", 4, 80, note=_H100_NOTE),
    "gpu-h100-8x": Hardware("8x Nvidia H100 GPU", Decimal("0.012200"), Decimal("43.92"), "H100", 8, 80, note=_H100_NOTE),
}  # fmt: skip


def hourly_rate(sku: str | None, rates: dict[str, Decimal] | None = None) -> Decimal | None:
    """USD per hour of one instance of ``sku``, from ``rates`` or the maintained table."""
    if not sku:
        return None
    if rates and rates.get(sku) is not None:
        return rates[sku]
    known = HARDWARE_PRICES.get(sku)
    return known.per_hour if known else None
