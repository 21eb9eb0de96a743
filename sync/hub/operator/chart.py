"""A small bar chart as inline SVG geometry: per hour, admitted (up) and refused (stacked), manual checks marked.

The template draws the rectangles; this module only computes their positions, so the page needs no
script and no image requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sync.hub.operator.queries import HourCounts

WIDTH, HEIGHT, PAD = 480, 120, 16


@dataclass(frozen=True)
class Bar:
    x: float
    w: float
    admitted_y: float
    admitted_h: float
    refused_y: float
    refused_h: float
    manual_y: float | None
    label: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    peak: int
    bars: list[Bar]


def hour_chart(hours: list[HourCounts], label_of: Callable[[int], str]) -> Chart:
    peak = max([h.admitted + h.refused for h in hours] + [1])
    plot = HEIGHT - PAD
    step = WIDTH / max(len(hours), 1)
    bars = []
    for i, h in enumerate(hours):
        ah = plot * h.admitted / peak
        rh = plot * h.refused / peak
        label = label_of(h.hour_ms)
        bars.append(Bar(x=round(i * step + 1, 1), w=round(max(step - 2, 1), 1),
                        admitted_y=round(plot - ah, 1), admitted_h=round(ah, 1),
                        refused_y=round(plot - ah - rh, 1), refused_h=round(rh, 1),
                        manual_y=round(plot - plot * h.manual / peak, 1) if h.manual else None,
                        label=label if i % 3 == 0 else "",
                        title=f"{label}: {h.admitted} admitted, {h.refused} refused, {h.manual} manual checks"))
    return Chart(WIDTH, HEIGHT, peak, bars)
