"""HTML pages: one run (``--carbon-html=PATH``), and the pieces the dashboard is built from.

Self-contained: styles inline, charts as inline SVG, no script, no font or image from the network.
Every name that comes from a run (test ids, projects, branches, regions) is escaped as data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_carbon.probes.bands import band_text, probe_band_text
from pytest_carbon.reports.text import esc as esc  # where the dashboard's pages found it
from pytest_carbon.reports.text import region_text
from pytest_carbon.units import format_co2, format_energy

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d2a22;background:#fbfcfa;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #d5e0d8}
h3{font-size:1.05rem;margin-bottom:.3rem}
.sub{color:#5b6b60;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{background:#fff;border:1px solid #d5e0d8;border-radius:8px;padding:.7rem 1rem;min-width:10rem}
.card .v{font-size:1.4rem;font-weight:600;display:block}.card .k{color:#5b6b60;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3ebe5;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
.ok{color:#23713a}.exceeded,.failed,.error{color:#b3261e;font-weight:600}.warn{color:#8a5a00}
.src{color:#5b6b60;font-size:.8rem}
svg{max-width:100%;height:auto;background:#fff;border:1px solid #e3ebe5;border-radius:6px}
ul.eq li{margin:.2rem 0}
"""


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body``; ``title`` is escaped here."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def cards(items: Sequence[tuple[str, str]]) -> str:
    """A row of figure cards: (label, value) pairs."""
    inner = "".join(
        f'<div class="card"><span class="v">{esc(v)}</span><span class="k">{esc(k)}</span></div>' for k, v in items
    )
    return f'<div class="cards">{inner}</div>'


def bar_chart(items: Sequence[tuple[str, float, str]], title: str, width: int = 760) -> str:
    """Horizontal bars: (label, value, value as text), largest first as given."""
    if not items:
        return ""
    bar_h, gap, label_w = 22, 8, 260
    height = len(items) * (bar_h + gap) + gap
    top = max((v for _, v, _ in items), default=0.0) or 1.0
    rows = []
    for i, (label, value, text) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = max(1.0, (width - label_w - 120) * max(value, 0.0) / top)
        short = label if len(label) <= 36 else label[:35] + "…"
        rows.append(
            f"<g><title>{esc(label)}: {esc(text)}</title>"
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12">{esc(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#3f8f5a" rx="3"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">{esc(text)}</text></g>'
        )
    return (
        f'<svg role="img" aria-label="{esc(title)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">'
        f"<title>{esc(title)}</title>{''.join(rows)}</svg>"
    )


def trend_chart(points: Sequence[tuple[str, float]], title: str, width: int = 760, height: int = 200) -> str:
    """A line of CO2e (grams) over runs, oldest first: (label, co2_g) pairs."""
    if not points:
        return ""
    left, right, top_pad, bottom = 70, 16, 16, 28
    top = max(v for _, v in points) or 1.0
    n = len(points)
    step = (width - left - right) / max(n - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + i * step, top_pad + (height - top_pad - bottom) * (1 - max(v, 0.0) / top)

    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = ""
    if n <= 120:  # one dot (with its own tooltip) per run while they can be told apart
        dots = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1f5e36"><title>{esc(label)}: {esc(format_co2(v))}'
            "</title></circle>"
            for (x, y), (label, v) in zip(coords, points, strict=True)
        )
    axis_y = height - bottom
    return (
        f'<svg role="img" aria-label="{esc(title)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
        f"<title>{esc(title)}</title>"
        f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#9aa9a0"/>'
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{axis_y}" stroke="#9aa9a0"/>'
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end">{esc(format_co2(top))}</text>'
        f'<text x="{left - 6}" y="{axis_y}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{height - 8}">{esc(points[0][0])}</text>'
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end">{esc(points[-1][0])} ({n} runs)</text>'
        f'<polyline points="{line}" fill="none" stroke="#3f8f5a" stroke-width="2"/>{dots}</svg>'
    )


def equivalents_section(energy_j: float, co2_g: float, what: str) -> str:
    """The tangible equivalents of a footprint at a human scale (their sources: ``equivalents_sources``)."""
    from pytest_carbon.equivalents import equivalents

    items = "".join(f"<li><strong>{esc(e.text)}</strong></li>" for e in equivalents(energy_j, co2_g))
    return f'<h3>{esc(what)} is about</h3><ul class="eq">{items}</ul>'


def equivalents_sources() -> str:
    """The sources of the equivalents, shown once per page however many footprints it shows."""
    from pytest_carbon.equivalents import sources_text

    return f'<p class="src" id="equivalent-sources">Sources of the equivalents: {esc(sources_text())}.</p>'


def recommendations_section(report: Mapping[str, Any], what: str) -> str:
    """Cleaner cloud regions for a run (``pytest_carbon.advice``), with the CO2e it would have emitted there."""
    from pytest_carbon.advice import PROVIDER_NAMES, advice_of

    region = report.get("region") or {}
    if not region or not region.get("known", True) or not region.get("code"):
        return (
            f"<h3>Cleaner cloud regions</h3><p>The region of {esc(what)} is not known, so no cleaner region can be "
            "suggested. Set it with <code>--carbon-region=CODE</code>.</p>"
        )
    advice = advice_of(report)
    if advice is None:
        return (
            "<h3>Cleaner cloud regions</h3><p>No cleaner cloud region can be suggested: the intensity tables "
            "could not be read.</p>"
        )
    found = advice.get("regions") or []
    if not found:
        return (
            f"<h3>Cleaner cloud regions</h3><p>No cloud region of {esc(', '.join(advice.get('providers') or []))} "
            f"in the tables has a cleaner grid than {esc(region.get('code'))} "
            f"({esc(region.get('intensity_g_per_kwh'))} g/kWh).</p>"
        )
    rows = []
    for r in found:
        there = format_co2(float(r["co2_g"])) if r.get("co2_g") is not None else ""
        saving = (
            f"{format_co2(float(r['saving_g']))} ({float(r.get('cut_pct') or 0.0):g} %)"
            if r.get("saving_g") is not None
            else ""
        )
        rows.append(
            f"<tr><td>{esc(PROVIDER_NAMES.get(str(r.get('provider')), r.get('provider')))}</td>"
            f"<td><code>{esc(r.get('code'))}</code></td><td>{esc(r.get('name'))}</td>"
            f'<td class="n">{esc(r.get("intensity_g_per_kwh"))} g/kWh</td><td class="n">{esc(r.get("year"))}</td>'
            f'<td class="src">{esc(r.get("source"))}</td>'
            f'<td class="n">{esc(there)}</td><td class="n">{esc(saving)}</td></tr>'
        )
    first = advice.get("provider_first")
    order = f" Regions of {esc(PROVIDER_NAMES.get(str(first), first))} come first." if first else ""
    co2_g = float((report.get("session") or {}).get("co2_g") or 0.0)
    return (
        f"<h3>Cleaner cloud regions</h3><p>{esc(what).capitalize()} emitted {esc(format_co2(co2_g))} in "
        f"<code>{esc(region.get('code'))}</code> ({esc(region.get('intensity_g_per_kwh'))} g/kWh, "
        f"{esc(region.get('intensity_source'))} {esc(region.get('year'))}). The same energy in the cleanest cloud "
        f"regions:{order}</p>"
        '<table class="rec"><thead><tr><th>provider</th><th>region</th><th>name</th><th class="n">intensity</th>'
        '<th class="n">year</th><th>source</th><th class="n">CO2e there</th><th class="n">saving</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _budget_cell(budget: Any) -> str:
    if not isinstance(budget, Mapping):
        return "<td></td>"
    status = str(budget.get("status") or "")
    css = status if status in ("ok", "exceeded") else "warn"
    return f'<td class="{css}">{esc(status)} ({esc(budget.get("limit"))})</td>'


def tests_table(tests: Sequence[Mapping[str, Any]], limit: int) -> str:
    """The ``limit`` costliest tests, with their outcome and budget status."""
    ranked = sorted(tests, key=lambda t: float(t.get("energy_j") or 0.0), reverse=True)[:limit]
    if not ranked:
        return "<p>No tests.</p>"
    rows = "".join(
        f"<tr><td><code>{esc(t.get('nodeid'))}</code></td>"
        f'<td class="{esc(t.get("outcome"))}">{esc(t.get("outcome"))}</td>'
        f'<td class="n">{esc(format_energy(float(t.get("energy_j") or 0.0)))}</td>'
        f'<td class="n">{esc(format_co2(float(t.get("co2_g") or 0.0)))}</td>'
        f'<td class="n">{float(t.get("duration_s") or 0.0) * 1e3:.1f} ms</td>'
        f"{_budget_cell(t.get('budget'))}</tr>"
        for t in ranked
    )
    return (
        '<table class="tests"><thead><tr><th>test</th><th>outcome</th><th class="n">energy</th>'
        '<th class="n">CO2e</th><th class="n">duration</th><th>budget</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _status(budget: Any) -> str | None:
    return str(budget.get("status")) if isinstance(budget, Mapping) else None


def budget_summary(report: Mapping[str, Any]) -> str:
    """The session budget (if any) and how many test budgets held or were exceeded."""
    parts = []
    session_budget = report.get("budget")
    if isinstance(session_budget, Mapping):
        status = str(session_budget.get("status") or "")
        parts.append(
            f'<p>Session budget <span class="{esc(status)}">{esc(status)}</span>: '
            f"{esc(session_budget.get('text') or session_budget.get('limit'))}</p>"
        )
    budgets = [t.get("budget") for t in report.get("tests") or [] if isinstance(t.get("budget"), Mapping)]
    if budgets:
        exceeded = sum(1 for b in budgets if b.get("status") == "exceeded")
        css = "exceeded" if exceeded else "ok"
        parts.append(f'<p class="{css}">Test budgets: {len(budgets) - exceeded} held, {exceeded} exceeded.</p>')
        over = [t for t in report.get("tests") or [] if _status(t.get("budget")) == "exceeded"]
        if over:
            parts.append(
                "<ul>"
                + "".join(
                    f'<li><code>{esc(t.get("nodeid"))}</code>: <span class="exceeded">exceeded</span> '
                    f"{esc(format_energy(float(t.get('energy_j') or 0.0)))}, "
                    f"{esc(format_co2(float(t.get('co2_g') or 0.0)))}, budget {esc(t['budget'].get('limit'))}</li>"
                    for t in over[:20]
                )
                + ("<li>...</li>" if len(over) > 20 else "")
                + "</ul>"
            )
    return "".join(parts)


def _code(text: str) -> str:
    return f"<code>{text}</code>"


def provenance_section(report: Mapping[str, Any]) -> str:
    """How each figure was obtained: probes (measured or estimated, error band), region and source, remainder."""
    session = report.get("session") or {}
    region = report.get("region") or {}
    probes = (report.get("machine") or {}).get("probes") or []
    items = []
    for probe in probes:
        how = "measured" if probe.get("measured") else "estimated"
        failed = f' <span class="error">failed: {esc(probe.get("error"))}</span>' if probe.get("error") else ""
        items.append(
            f'<li class="probe"><code>{esc(probe.get("name"))}</code> '
            f"({esc(', '.join(probe.get('components') or []))}): <strong>{how}</strong>"
            f"{esc(probe_band_text(probe))}{failed}</li>"
        )
    probes_html = f'<ul class="probes">{"".join(items)}</ul>' if items else "<p>No energy probe: figures are 0.</p>"
    energy_j = float(session.get("energy_j") or 0.0)
    band = band_text(session.get("band"))
    band_note = (
        f" (P90 error band{esc(band)}: nine figures in ten fall within it)" if band else " (no quantified error band)"
    )
    return (
        '<section class="provenance"><h3>How these figures were obtained</h3>'
        f"<p>Energy: <strong>{esc(format_energy(energy_j))}{esc(band)}</strong>{band_note}: "
        f"tests {esc(format_energy(float(session.get('tests_energy_j') or 0.0)))}, remainder (collection, plugin "
        f"work, gaps) {esc(format_energy(float(session.get('unattributed_energy_j') or 0.0)))}; scope "
        f"<code>{esc(report.get('scope'))}</code>.</p>"
        f"<p>Probes:</p>{probes_html}"
        f'<p class="region">Region: {region_text(region, escape=esc, code=_code)}.</p>'
        f"<p>CO2e = energy × intensity × PUE.</p></section>"
    )


def run_section(report: Mapping[str, Any], top: int, heading: str = "h2") -> str:
    """Everything about one run: figures, region, budgets, top tests, equivalents, recommendations."""
    run = report.get("run") or {}
    session = report.get("session") or {}
    git = run.get("git") or {}
    tests = report.get("tests") or []
    energy_j = float(session.get("energy_j") or 0.0)
    co2_g = float(session.get("co2_g") or 0.0)
    failed = sum(1 for t in tests if t.get("outcome") in ("failed", "error"))
    out = [
        f"<{heading}>Run {esc(str(run.get('id') or '')[:12])} of <code>{esc(run.get('project'))}</code></{heading}>",
        f'<p class="sub">branch <code>{esc(git.get("branch") or "-")}</code>, commit '
        f"<code>{esc((git.get('commit') or '-')[:12])}</code>, started {esc(run.get('started_at'))}"
        f"{'' if report.get('complete', True) else ' (incomplete: the session was cut short)'}</p>",
        cards(
            [
                ("CO2e", format_co2(co2_g)),
                ("energy", format_energy(energy_j) + band_text(session.get("band"))),
                ("duration", f"{float(session.get('duration_s') or 0.0):.2f} s"),
                ("tests", str(len(tests))),
                ("failed", str(failed)),
            ]
        ),
        provenance_section(report),
    ]
    missing = report.get("missing") or []
    if missing:
        out.append('<p>Missing:</p><ul class="missing">' + "".join(f"<li>{esc(m)}</li>" for m in missing) + "</ul>")
    warnings = report.get("warnings") or []
    if warnings:
        out.append('<p>Warnings:</p><ul class="warnings">' + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>")
    out.append(budget_summary(report))
    out.append(f"<h3>Top {min(top, len(tests))} tests by energy</h3>")
    out.append(tests_table(tests, top))
    out.append(equivalents_section(energy_j, co2_g, "This run"))
    out.append(recommendations_section(report, "this run"))
    return "\n".join(out)


def render_html(report: Mapping[str, Any], top: int = 20) -> str:
    """The page of one run."""
    run = report.get("run") or {}
    body = f"<h1>pytest-carbon: {esc(run.get('project'))}</h1>\n" + run_section(report, top) + equivalents_sources()
    return page(f"pytest-carbon: {run.get('project') or 'run'}", body)


def write_html(report: Mapping[str, Any], path: str | os.PathLike[str], top: int = 20) -> None:
    """Write the page of one run to ``path`` (atomically)."""
    from pytest_carbon.outputs import write_text as write_text_atomic

    write_text_atomic(path, render_html(report, top))
