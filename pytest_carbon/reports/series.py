"""Comparable series of runs for the dashboard, and the charts that draw them (inline SVG, no script).

Two runs are comparable when they ran the same tests the same way: the same project and branch,
the same test selection (the signature of the collected node ids, so a ``-k`` subset or a shard is
a series of its own), the same number of xdist workers, the same machine class (CPU model and
threads) and the same region. The dashboard draws one trend per series, in energy and in CO2e, with
labelled axes and ticks, the gate's noise band where a run was compared, and a sparkline per test
for the costliest tests of the series' newest run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pytest_carbon.reports.text import esc
from pytest_carbon.units import format_co2, format_energy


class SeriesKey(NamedTuple):
    """What makes runs comparable."""

    project: str
    branch: str
    selection: str
    workers: int
    machine: str
    region: str

    def label(self) -> str:
        """The key as a line of text."""
        workers = "no xdist" if not self.workers else f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        return (
            f"branch {self.branch}, selection {self.selection}, {workers}, machine {self.machine}, region {self.region}"
        )


def series_key(summary: Mapping[str, Any], report: Mapping[str, Any] | None) -> SeriesKey:
    """The series of a stored run, from its summary row and its stored report."""
    run = (report or {}).get("run") or {}
    machine = (report or {}).get("machine") or {}
    cpu = machine.get("cpu_model") or "unknown CPU"
    threads = machine.get("threads")
    return SeriesKey(
        project=str(summary.get("project") or "-"),
        branch=str(summary.get("branch") or "-"),
        selection=str(run.get("selection") or "unknown"),
        workers=int(run.get("workers") or 0),
        machine=f"{cpu}, {threads} threads" if threads else str(cpu),
        region=str(summary.get("region_code") or "unknown"),
    )


def band_of(report: Mapping[str, Any] | None, metric: str) -> tuple[float, float] | None:
    """The gate's noise band of the session (its baseline's), where the run was compared on ``metric``."""
    comparison = (report or {}).get("comparison") or {}
    if comparison.get("metric", "energy") != metric:
        return None
    band = (comparison.get("session") or {}).get("band")
    if isinstance(band, (list, tuple)) and len(band) == 2 and all(isinstance(v, (int, float)) for v in band):
        low, high = float(band[0]), float(band[1])
        if math.isfinite(low) and math.isfinite(high) and high >= low:
            return low, high
    return None


def _nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round values from 0 to at least ``top`` for an axis: 0, 0.5, 1.0 ... (about ``count`` of them)."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def series_chart(
    points: Sequence[tuple[str, float, tuple[float, float] | None]],
    metric: str,
    title: str,
    width: int = 760,
    height: int = 240,
) -> str:
    """One series over runs, oldest first: (label, value, noise band or None); ``metric`` is energy or co2."""
    if not points:
        return ""
    fmt = format_energy if metric == "energy" else format_co2
    unit = "energy" if metric == "energy" else "CO2e"
    left, right, top_pad, bottom = 84, 16, 14, 58
    values = [v for _, v, _ in points] + [b[1] for _, _, b in points if b]
    ticks = _nice_ticks(max(values) if values else 0.0)
    top = ticks[-1] or 1.0
    n = len(points)
    step = (width - left - right) / max(n - 1, 1)
    axis_y = height - bottom

    def x(i: int) -> float:
        return left + i * step if n > 1 else (left + width - right) / 2

    def y(v: float) -> float:
        return top_pad + (axis_y - top_pad) * (1 - max(v, 0.0) / top)

    parts = [
        f'<svg class="series" data-metric="{esc(metric)}" role="img" aria-label="{esc(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="sans-serif" font-size="11"><title>{esc(title)}</title>'
    ]
    bands = [(i, b) for i, (_, _, b) in enumerate(points) if b]
    for i, (low, high) in bands:
        half = max(step / 3, 3)
        parts.append(
            f'<rect class="band" x="{x(i) - half:.1f}" y="{y(high):.1f}" width="{2 * half:.1f}" '
            f'height="{max(y(low) - y(high), 1):.1f}" fill="#cfe3d5"><title>noise band of the baseline: '
            f"{esc(fmt(low))} to {esc(fmt(high))}</title></rect>"
        )
    for tick in ticks:
        ty = y(tick)
        parts.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" stroke="#eef2ef"/>'
            f'<text class="y-tick" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{esc(fmt(tick))}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#9aa9a0"/>'
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{axis_y}" stroke="#9aa9a0"/>'
    )
    shown = sorted({0, n - 1, *range(0, n, max(1, math.ceil(n / 6)))})
    for i in shown:
        # the first and last labels lean inwards, so that the chart's edges do not cut them
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(
            f'<text class="x-tick" x="{x(i):.1f}" y="{axis_y + 16}" text-anchor="{anchor}">{esc(points[i][0])}</text>'
        )
    parts.append(
        f'<text class="y-label" transform="translate(14 {(top_pad + axis_y) / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{esc(unit)} per run</text>'
        f'<text class="x-label" x="{(left + width - right) / 2:.0f}" y="{height - 10}" text-anchor="middle">'
        f"run start (oldest to newest, {n} run{'s' if n != 1 else ''})</text>"
    )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v, _) in enumerate(points))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#3f8f5a" stroke-width="2"/>')
    for i, (label, v, _) in enumerate(points):
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#1f5e36"><title>{esc(label)}: {esc(fmt(v))}'
            "</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float | None], title: str, width: int = 160, height: int = 28) -> str:
    """A small line of a test's energy over the series' runs (a gap where the test did not run)."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    top = max(known) or 1.0
    n = len(values)
    step = (width - 4) / max(n - 1, 1)
    segments: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            segments.append([])
            continue
        segments[-1].append(f"{2 + i * step:.1f},{height - 3 - (height - 6) * max(v, 0.0) / top:.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(s)}" fill="none" stroke="#3f8f5a" stroke-width="1.5"/>' for s in segments if s
    )
    dots = "".join(
        f'<circle cx="{s[-1].split(",")[0]}" cy="{s[-1].split(",")[1]}" r="2" fill="#1f5e36"/>'
        for s in segments[-1:]
        if s
    )
    return (
        f'<svg class="spark" role="img" aria-label="{esc(title)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>{lines}{dots}</svg>'
    )
