"""The Costs page's chart: cost per hour, day or week as an SVG drawn on the server (no
JavaScript library, no CDN): bars with a title each (hover and screen readers say the figure)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 56, 28, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (y, label) of the value axis
    labels: list[tuple[float, str]]  # (x, label) of the time axis
    peak: Decimal
    baseline: float
    left: int


def _label(moment: dt.datetime, step: dt.timedelta) -> str:
    return f"{moment:%H:%M}" if step < dt.timedelta(days=1) else f"{moment:%b %-d}"


def cost_chart(points: list[tuple[dt.datetime, dt.datetime, Decimal]]) -> Chart:
    peak = max((v for _, _, v in points), default=Decimal("0"))
    top = peak if peak > 0 else Decimal("1")
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(points), 1)
    bars = []
    for i, (a, b, value) in enumerate(points):
        h = float(value / top) * plot_h if value > 0 else 0.0
        step = b - a
        bars.append(
            Bar(
                x=round(LEFT + i * slot + slot * 0.1, 2),
                y=round(TOP + plot_h - h, 2),
                width=round(max(slot * 0.8, 1), 2),
                height=round(h, 2),
                title=f"{_label(a, step)}: ${value:,.2f}",
            )
        )
    ticks = [(round(TOP + plot_h - plot_h * k / 4, 2), f"${top * k / 4:,.2f}") for k in range(5)]
    every = max(1, len(points) // 8)
    labels = [
        (round(LEFT + i * slot + slot / 2, 2), _label(a, b - a)) for i, (a, b, _) in enumerate(points) if i % every == 0
    ]
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, peak, TOP + plot_h, LEFT)
