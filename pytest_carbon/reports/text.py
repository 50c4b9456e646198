"""The text every format shares: the region line, how a probe obtained its figures, HTML escaping.

The words every format (the terminal, Markdown, HTML, the header) uses for the same facts,
written once; each format passes its own escaping (``escape``: data as text of that format)
and its markup for code (``code``). A module of its own, imported by the renderers and by the
registry (``pytest_carbon.reports``, which re-exports ``region_text`` and ``probe_text``), so that
no renderer imports the registry that imports it, and no renderer imports another one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def esc(value: Any) -> str:
    """Text as HTML data (quotes too, so it is safe in attributes), as ``html.escape(text, quote=True)``.

    Written out rather than imported: the standard library's ``html`` loads its table of entities,
    and this module is imported at start-up (the header's region line).
    """
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;").replace("'", "&#x27;")


def _same(text: str) -> str:
    return text


def _merged_figure(value: Any) -> str:
    """A merged report's averaged figure (unrounded in the report) at 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def region_text(
    region: Mapping[str, Any],
    *,
    escape: Callable[[str], str] = _same,
    code: Callable[[str], str] = _same,
) -> str:
    """Where the tests ran and the intensity used, in one sentence (no final stop).

    ``escape`` turns data (a name, a source) into text of the format, ``code`` marks up a code or
    an option name that ``escape`` already made safe; both leave text as it is by default (the
    terminal).
    """

    def data(value: Any) -> str:
        return escape("" if value is None else str(value))

    if not region:
        return "no region: CO2e figures are 0"
    intensity = region.get("intensity_g_per_kwh")
    if region.get("source") == "merged":
        return (
            f"{data(region.get('name') or 'merged shards')}: {_merged_figure(intensity)} g/kWh on average "
            f"over the shards, PUE {_merged_figure(region.get('pue'))}"
        )
    if not region.get("known", True) or not region.get("code"):
        text = (
            f"unknown: the world average {data(intensity)} g/kWh was used "
            f"({data(region.get('intensity_source'))} {data(region.get('year'))})"
        )
        note = region.get("note")
        return text + (f". {data(note)}" if note else f"; set {code('--carbon-region')} for a real figure")
    live = ", live" if region.get("live") else ""
    basis = f" ({data(region['basis'])})" if region.get("basis") else ""
    note = f". {data(region['note'])}" if region.get("note") else ""
    return (
        f"{code(data(region.get('code')))} ({data(region.get('name') or region.get('table'))}): "
        f"{data(intensity)} g/kWh{live} from {data(region.get('intensity_source'))} {data(region.get('year'))}"
        f"{basis}, PUE {data(region.get('pue'))}; chosen by {data(region.get('source'))}{note}"
    )


def probe_text(probe: Mapping[str, Any], band: str, *, escape: Callable[[str], str] = _same) -> str:
    """How a probe obtained its figures: "rapl (cpu, ram: measured, ±2 % P50, ±5 % P90)".

    ``band`` is the probe's band as text (``probes.bands.probe_band_text``); a probe that failed
    during the session says so (the report's ``missing`` says what it lost).
    """
    how = "measured" if probe.get("measured") else "estimated"
    comps = escape(", ".join(str(c) for c in probe.get("components") or []))
    text = f"{escape(str(probe.get('name')))} ({comps}: {how}{band})"
    if probe.get("error"):
        text += " FAILED during the session (see missing)"
    return text
