"""GitHub-flavoured Markdown summary for a pull request or a job summary.

Starts with the hidden marker ``<!-- pytest-carbon -->`` so that a CI step can find and update
its own earlier comment instead of adding a new one at every push.
"""

from __future__ import annotations

import os
from typing import Any

from pytest_carbon.outputs import write_text as write_text_atomic
from pytest_carbon.probes.bands import band_text, probe_band_text
from pytest_carbon.reports.text import probe_text, region_text
from pytest_carbon.units import format_energy, format_quantity

MARKER = "<!-- pytest-carbon -->"
#: characters that start Markdown or HTML syntax inside a table cell or a list item
_SPECIAL = set("\\`*_[]<>|&~!#")


def escape(text: str) -> str:
    """Make ``text`` literal inside a Markdown table cell (pipes, backticks, HTML, newlines)."""
    out = []
    for char in str(text):
        if char in _SPECIAL:
            out.append("\\" + char)
        elif char == "\n":
            out.append("<br>")
        elif char in "\r\t\x0b\x0c":
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _co2(value_g: float) -> str:
    return format_quantity(value_g, "co2")


def _how(report: dict[str, Any]) -> str:
    probes = (report.get("machine") or {}).get("probes", [])
    return (
        "; ".join(probe_text(p, probe_band_text(p), escape=escape) for p in probes) or "no energy probe (figures are 0)"
    )


def _figure(value: Any) -> str:
    """A figure for display: merged reports keep unrounded intensities and PUEs."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _equivalents(report: dict[str, Any]) -> list[str]:
    from pytest_carbon.equivalents import equivalents

    session = report["session"]
    items = equivalents(float(session["energy_j"]), float(session["co2_g"]))
    return [escape(e.text) for e in items]


def _budget(report: dict[str, Any]) -> list[str]:
    budget = report.get("budget")
    if not budget:
        return []
    lines = ["", "**Budgets**", ""]
    session = budget.get("session")
    if session:
        mark = "❌" if session["status"] == "exceeded" else "✅"
        lines.append(f"- {mark} {escape(session['text'])}")
    exceeded = budget.get("tests_exceeded", [])
    with_budget = budget.get("tests_with_budget", 0)
    if with_budget:
        if exceeded:
            lines.append(f"- ❌ {len(exceeded)} of {with_budget} test(s) over their budget:")
            by_id = {t["nodeid"]: t for t in report.get("tests", [])}
            for nodeid in exceeded[:20]:
                text = (by_id.get(nodeid, {}).get("budget") or {}).get("text", "")
                lines.append(f"  - {escape(nodeid)}: {escape(text)}")
        else:
            lines.append(f"- ✅ all {with_budget} test budget(s) met")
    if budget.get("mode") == "warn" and (exceeded or (session and session["status"] == "exceeded")):
        lines.append("- mode warn: budgets are reported, the run does not fail for them")
    return lines


def _comparison(report: dict[str, Any], top: int) -> list[str]:
    comp = report.get("comparison")
    if not comp:
        return []
    metric = comp.get("metric", "energy")

    def fmt(value: float) -> str:
        return format_quantity(value, metric)

    def row(delta: dict[str, Any]) -> str:
        rel = delta.get("relative")
        rel_text = "new" if rel is None else f"{rel * 100:+.1f}%"
        verdict = "regression" if delta.get("regressed") else "improvement" if delta.get("improved") else "noise"
        band = delta.get("band")
        base_text = fmt(delta["base"])
        if isinstance(band, list) and len(band) == 2:
            base_text += f" ({fmt(band[0])}..{fmt(band[1])})"
        p_value = delta.get("p_value")
        why = f"p={p_value:.2g}" if isinstance(p_value, (int, float)) and verdict != "noise" else ""
        if delta.get("confirmed"):
            why += ("; " if why else "") + f"{len(delta.get('measurements') or [])} repeat(s)"
        return (
            f"| {escape(delta['subject'])} | {base_text} | {fmt(delta['new'])} | {rel_text} | {verdict} | "
            f"{escape(why)} |"
        )

    base = comp.get("base_run") or {}
    commit = str((base.get("git") or {}).get("commit") or "unknown")[:12]
    runs = int(comp.get("base_runs") or 1)
    source = (
        f"the median of {runs} comparable runs"
        if runs > 1
        else f"run {escape(str(base.get('id')))}, commit {escape(commit)}"
    )
    lines = [
        "",
        f"**Against the baseline** ({source}; {metric}, threshold {comp.get('threshold', 0) * 100:g}%, "
        f"significance {comp.get('alpha', 0.05):g}, noise floor {format_energy(comp.get('session_floor_j', 0))}"
        f" for the session and {format_energy(comp.get('test_floor_j', 0))} per test)",
        "",
        "| | baseline (band) | this run | change | verdict | why |",
        "|---|---:|---:|---:|---|---|",
        row(comp["session"]),
    ]
    lines += [row(d) for d in comp.get("regressions", [])[:top]]
    lines += [row(d) for d in comp.get("improvements", [])[:top]]
    if "judged" in comp:
        lines += [
            "",
            f"{comp['judged']} test(s) judged: {len(comp.get('regressions', []))} regressed, "
            f"{len(comp.get('improvements', []))} improved, {comp.get('within_noise', 0)} within noise.",
        ]
    if comp.get("added") or comp.get("removed"):
        lines += ["", f"{len(comp.get('added', []))} new test(s), {len(comp.get('removed', []))} removed."]
    lines += [f"> {escape(n)}" for n in comp.get("notes", [])]
    return lines


def _tests_table(report: dict[str, Any], top: int) -> list[str]:
    tests = sorted(report.get("tests", []), key=lambda t: t["energy_j"], reverse=True)[:top]
    if not tests:
        return []
    lines = [
        "",
        f"**Top {len(tests)} tests by energy**",
        "",
        "| # | test | outcome | energy | CO2e | duration | budget |",
        "|---:|---|---|---:|---:|---:|---|",
    ]
    for rank, test in enumerate(tests, 1):
        budget = test.get("budget") or {}
        budget_text = f"{escape(budget['limit'])} {budget['status']}" if budget else ""
        lines.append(
            f"| {rank} | {escape(test['nodeid'])} | {escape(str(test.get('outcome')))} | "
            f"{format_energy(test['energy_j'])} | {_co2(test['co2_g'])} | {test['duration_s'] * 1e3:.1f} ms | "
            f"{budget_text} |"
        )
    return lines


def recommendation(report: dict[str, Any]) -> str | None:
    """Cleaner cloud regions for this run (``pytest_carbon.advice``) as a table; None when there is none."""
    from pytest_carbon.advice import PROVIDER_NAMES as _PROVIDER_NAMES
    from pytest_carbon.advice import advice_of

    advice = advice_of(report)
    if not advice or not advice.get("regions"):
        return None
    basis = advice.get("basis") or {}
    first = advice.get("provider_first")
    order = f"; {_PROVIDER_NAMES.get(first, first)} regions first" if first else ""
    lines = [
        f"💡 **Cleaner cloud regions for these tests** (this run: {escape(str(basis.get('code')))}, "
        f"{_figure(basis.get('intensity_g_per_kwh'))} g/kWh, {escape(str(basis.get('source')))} "
        f"{basis.get('year') or ''}{order}):",
        "",
        "| provider | region | name | intensity | year | source | CO2e there | saving |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    for r in advice["regions"]:
        there = _co2(float(r["co2_g"])) if r.get("co2_g") is not None else ""
        saving = f"{_co2(float(r['saving_g']))} ({r['cut_pct']:g}%)" if r.get("saving_g") is not None else ""
        lines.append(
            f"| {escape(_PROVIDER_NAMES.get(str(r['provider']), str(r['provider'])))} | {escape(str(r['code']))} | "
            f"{escape(str(r['name']))} | {_figure(r['intensity_g_per_kwh'])} g/kWh | {r.get('year') or ''} | "
            f"{escape(str(r.get('source')))} | {there} | {saving} |"
        )
    return "\n".join(lines)


def render_markdown(report: dict[str, Any], *, top: int = 10) -> str:
    """The summary as GitHub-flavoured Markdown."""
    session = report["session"]
    tests = report.get("tests", [])
    failing = (report.get("budget") or {}).get("failed") or (report.get("comparison") or {}).get("failed")
    status = " ❌" if failing else ""
    lines = [
        MARKER,
        f"### pytest-carbon: {_co2(session['co2_g'])}, {format_energy(session['energy_j'])}{status}",
        "",
        f"- **Tests**: {len(tests)} over {session['duration_s']:.2f} s"
        + ("" if report.get("complete", True) else " (incomplete: the session was cut short)"),
        f"- **Energy**: {format_energy(session['energy_j'])}{band_text(session.get('band'))}: "
        f"tests {format_energy(session['tests_energy_j'])}, "
        f"remainder (collection, plugin work, gaps) {format_energy(session['unattributed_energy_j'])}; "
        f"scope {escape(str(report.get('scope')))}",
        f"- **Region**: {region_text(report.get('region') or {}, escape=escape)}",
        f"- **How**: {_how(report)}",
        "- **Equivalent to**: " + "; ".join(_equivalents(report)),
    ]
    for why in report.get("missing", []):
        lines.append(f"- **Missing**: {escape(why)}")
    for warning in report.get("warnings", []):
        lines.append(f"- **Warning**: {escape(str(warning))}")
    lines += _budget(report)
    lines += _comparison(report, top)
    lines += _tests_table(report, top)
    tip = recommendation(report)
    if tip:
        lines += ["", tip]
    from pytest_carbon.equivalents import sources_text

    lines += ["", f"<sub>Sources of the equivalents: {escape(sources_text())}.</sub>"]
    return "\n".join(lines) + "\n"


def write_markdown(report: dict[str, Any], path: str | os.PathLike[str], *, top: int = 10) -> None:
    """Write the Markdown summary atomically."""
    write_text_atomic(path, render_markdown(report, top=top))


def append_markdown(report: dict[str, Any], path: str | os.PathLike[str], *, top: int = 10) -> None:
    """Append the summary to a file that others also write (GitHub's job summary)."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(render_markdown(report, top=top) + "\n")
