r"""The terminal summary, rendered from the report dict (like ``--durations``).

Every line is made printable first (``printable``): a node id, a note or a path that holds a
newline, a carriage return or an escape sequence shows it as ``\n``, ``\r``, ``\x1b``, so no
text from a test's name can start a line of its own (a CI workflow command such as ``::error``)
or move the cursor.
"""

from __future__ import annotations

import re
from typing import Any

from pytest_carbon.probes.bands import band_text, probe_band_text
from pytest_carbon.units import format_co2, format_energy

#: C0 and C1 control characters, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text: str) -> str:
    r"""``text`` with its control characters written as escapes (``\n``, ``\x1b``, ``\u2028``): one terminal line."""
    return text if text.isprintable() else _CONTROL.sub(_escape, text)


def _probe_text(desc: dict[str, Any]) -> str:
    how = "measured" if desc.get("measured") else "estimated"
    text = f"{desc.get('name')} ({', '.join(desc.get('components', []))}: {how}{probe_band_text(desc)})"
    if desc.get("error"):
        text += " FAILED during the session (see missing)"
    return text


def _region_text(region: dict[str, Any]) -> str:
    if not region:
        return "region: none"
    if not region.get("known", True):
        return "region: " + (
            region.get("note")
            or f"unknown, world average {region.get('intensity_g_per_kwh')} g/kWh ({region.get('intensity_source')})"
        )
    live = " live" if region.get("live") else ""
    text = (
        f"region: {region.get('code')} ({region.get('name') or region.get('table')}), "
        f"{region.get('intensity_g_per_kwh')} g/kWh{live} from {region.get('intensity_source')} "
        f"{region.get('year') or ''}, PUE {region.get('pue')}; chosen by {region.get('source')}"
    )
    if region.get("note"):
        text += f". {region['note']}"
    return text


def summary_lines(report: dict[str, Any], *, verbosity: int = 0, top: int = 10) -> list[str]:
    """Lines of the summary: one line under -q, the totals and top tests by default, more under -v."""
    session = report["session"]
    tests = report["tests"]
    head = (
        f"carbon: {format_co2(session['co2_g'])} CO2e, {format_energy(session['energy_j'])}"
        f"{band_text(session.get('band'))} "
        f"over {session['duration_s']:.2f} s, {len(tests)} tests"
    )
    if not report.get("complete", True):
        head += " (incomplete: the session was cut short)"
    if verbosity < 0:
        region = report.get("region") or {}
        where = region.get("code") if region.get("known", True) else "region unknown"
        return [printable(f"{head}; {where}")]
    lines = [head]
    lines.append(_region_text(report.get("region") or {}))
    probes = report["machine"].get("probes", [])
    lines.append("probes: " + ("; ".join(_probe_text(p) for p in probes) or "none"))
    comps = session["components_j"]
    lines.append(
        "energy: tests "
        + format_energy(session["tests_energy_j"])
        + ", remainder (collection, plugin work, gaps) "
        + format_energy(session["unattributed_energy_j"])
        + "; cpu "
        + format_energy(comps.get("cpu", 0.0))
        + ", ram "
        + format_energy(comps.get("ram", 0.0))
        + ", gpu "
        + format_energy(comps.get("gpu", 0.0))
        + f"; scope {report.get('scope')}"
    )
    if verbosity > 0:
        from pytest_carbon.equivalents import equivalents_text, sources_text

        lines.append("equivalent to: " + equivalents_text(float(session["energy_j"]), float(session["co2_g"])))
        lines.append("  sources: " + sources_text())
    for why in report.get("missing", []):
        lines.append(f"missing: {why}")
    count = len(tests) if verbosity > 1 else top
    if count and tests:
        ranked = sorted(tests, key=lambda t: t["energy_j"], reverse=True)[:count]
        lines.append(f"top {len(ranked)} tests by energy:")
        width = max(len(format_energy(t["energy_j"])) for t in ranked)
        for t in ranked:
            extra = ""
            if verbosity > 0:
                c = t["components_j"]
                extra = (
                    f"  dyn {format_energy(t['dynamic_energy_j'])} "
                    f"[cpu {format_energy(c.get('cpu', 0.0))}, ram {format_energy(c.get('ram', 0.0))}, "
                    f"gpu {format_energy(c.get('gpu', 0.0))}]"
                )
            lines.append(
                f"  {format_energy(t['energy_j']).rjust(width)}  {format_co2(t['co2_g']):>10}  "
                f"{t['duration_s'] * 1e3:8.2f} ms  cpu {t['cpu_time_s'] * 1e3:8.2f} ms  "
                f"{t['outcome']:<8} {t['nodeid']}{extra}"
            )
    return [printable(line) for line in lines]
