"""The dashboard: a static, self-contained site written from the history store.

``index.html`` holds the organisation's totals, per-project totals, and for each project its
series of comparable runs (``pytest_carbon.reports.series``: the same branch, test selection,
workers, machine class and region), each drawn in energy and in CO2e with the gate's noise bands
and a sparkline for its costliest tests, then its latest run (top tests, budgets, equivalents,
cleaner regions). ``runs/ID-DIGEST.html`` is the page of every stored run and ``runs.html`` lists
them. No script, no network: charts are inline SVG.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from pytest_carbon.reports.html import (
    bar_chart,
    cards,
    equivalents_section,
    equivalents_sources,
    esc,
    page,
    render_html,
    run_section,
)
from pytest_carbon.store import Store
from pytest_carbon.units import format_co2, format_energy


def _project_id(index: int) -> str:
    return f"project-{index}"


def run_page(run_id: str) -> str:
    """The file of a run's page: only safe characters from the id, and a digest so two ids never share it."""
    import hashlib

    safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(run_id))[:60]
    return f"runs/{safe}-{hashlib.sha256(str(run_id).encode('utf-8', 'surrogateescape')).hexdigest()[:8]}.html"


#: the most runs a series' chart draws, and the runs its sparklines span
SERIES_RUNS = 60
SPARK_RUNS = 20


def _series_sections(store: Store, project_runs: list[dict[str, Any]], top_tests: int) -> str:
    """One section per series of comparable runs of a project, the newest series first."""
    from pytest_carbon.reports.series import band_of, series_chart, series_key, sparkline

    groups: dict[Any, list[tuple[dict[str, Any], dict[str, Any] | None]]] = {}
    for run in project_runs:  # newest first
        report = store.report(run["id"], with_tests=False)
        groups.setdefault(series_key(run, report), []).append((run, report))
    out = [f"<h3>Comparable series ({len(groups)})</h3>"]
    if len(groups) > 1:
        out.append(
            '<p class="sub">Runs are drawn together only when they ran the same tests the same way: branch, '
            "test selection, xdist workers, machine class and region.</p>"
        )
    for number, (key, members) in enumerate(groups.items()):
        recent = list(reversed(members[:SERIES_RUNS]))  # oldest first
        labels = [str(run["started_at"] or "?")[:16].replace("T", " ") for run, _ in recent]
        out.append(
            f'<div class="series-group" id="series-{number}"><h4>{esc(key.label())}</h4>'
            f'<p class="sub">{len(members)} run(s)'
            + (f", the newest {len(recent)} drawn" if len(members) > len(recent) else "")
            + "</p>"
        )
        for metric, field in (("energy", "energy_j"), ("co2", "co2_g")):
            points = [
                (label, float(run[field] or 0.0), band_of(report, metric))
                for label, (run, report) in zip(labels, recent, strict=True)
            ]
            what = "energy" if metric == "energy" else "CO2e"
            out.append(series_chart(points, metric, f"{what} per run: {key.label()}"))
        spark_runs = list(reversed(members[:SPARK_RUNS]))
        newest = members[0][0]
        top = store.tests(newest["id"], limit=top_tests)
        if top:
            per_run = [{t["nodeid"]: float(t["energy_j"]) for t in store.tests(run["id"])} for run, _ in spark_runs]
            rows = []
            for test in top:
                values = [found.get(test["nodeid"]) for found in per_run]
                rows.append(
                    f"<tr><td><code>{esc(test['nodeid'])}</code></td>"
                    f"<td>{sparkline(values, 'energy of ' + str(test['nodeid']) + ' over the series')}</td>"
                    f'<td class="n">{esc(format_energy(float(test["energy_j"])))}</td></tr>'
                )
            out.append(
                f'<table class="sparks"><thead><tr><th>test (costliest of the newest run)</th>'
                f'<th>energy over the last {len(spark_runs)} run(s)</th><th class="n">newest</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>"
            )
        links = ", ".join(
            f'<a href="{esc(run_page(run["id"]))}">{esc(str(run["started_at"] or run["id"])[:16])}</a>'
            for run, _ in members[:10]
        )
        out.append(f"<p>Runs: {links}{' ...' if len(members) > 10 else ''}</p></div>")
    return "\n".join(out)


def _runs_page(runs: list[dict[str, Any]]) -> str:
    """Every stored run, newest first, each linked to its page."""
    rows = "".join(
        f'<tr><td><a href="{esc(run_page(r["id"]))}">{esc(str(r["id"])[:12])}</a></td>'
        f"<td><code>{esc(r['project'])}</code></td><td><code>{esc(r['branch'] or '-')}</code></td>"
        f"<td>{esc(r['started_at'])}</td>"
        f'<td class="n">{esc(format_energy(float(r["energy_j"] or 0.0)))}</td>'
        f'<td class="n">{esc(format_co2(float(r["co2_g"] or 0.0)))}</td>'
        f'<td class="n">{esc(r["test_count"])}</td></tr>'
        for r in runs
    )
    body = (
        '<h1>Every stored run</h1><p><a href="index.html">Back to the dashboard</a></p>'
        '<table class="runs"><thead><tr><th>run</th><th>project</th><th>branch</th><th>started</th>'
        '<th class="n">energy</th><th class="n">CO2e</th><th class="n">tests</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )
    return page("pytest-carbon: every stored run", body)


def render_dashboard(store: Store, top: int = 15) -> tuple[str, dict[str, str]]:
    """The index page and the pages of each project's latest run ({file name: HTML})."""
    runs = store.runs()  # newest first
    by_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_org: dict[str, float] = defaultdict(float)
    for run in runs:
        by_project[run["project"]].append(run)
        by_org[run["organisation"] or "(no organisation)"] += float(run["co2_g"] or 0.0)
    total_co2_g = sum(float(r["co2_g"] or 0.0) for r in runs)
    total_energy_j = sum(float(r["energy_j"] or 0.0) for r in runs)
    totals = sorted(
        ((name, sum(float(r["co2_g"] or 0.0) for r in rs), len(rs)) for name, rs in by_project.items()),
        key=lambda item: item[1],
        reverse=True,
    )
    body = [
        "<h1>pytest-carbon dashboard</h1>",
        f'<p class="sub">{len(runs)} stored runs of {len(by_project)} projects'
        + (f", newest {esc(runs[0]['started_at'])}" if runs else "")
        + ". Figures are CO2e of the test runs, from the energy pytest-carbon metered or estimated.</p>",
        "<h2>Organisation total"
        + (f": {esc(next(iter(by_org)))}" if len(by_org) == 1 and None not in {r["organisation"] for r in runs} else "")
        + "</h2>",
        cards(
            [
                ("CO2e, all runs", format_co2(total_co2_g)),
                ("energy, all runs", format_energy(total_energy_j)),
                ("runs", str(len(runs))),
                ("projects", str(len(by_project))),
            ]
        ),
    ]
    if len(by_org) > 1:
        org_items = sorted(by_org.items(), key=lambda item: item[1], reverse=True)
        body.append(bar_chart([(name, co2, format_co2(co2)) for name, co2 in org_items], "CO2e per organisation"))
    if runs:
        body.append(equivalents_section(total_energy_j, total_co2_g, "All stored runs together"))
    else:
        body.append(
            "<p>The history is empty: run <code>pytest --carbon</code>, or store a saved report with "
            "<code>pytest-carbon store push REPORT.json</code>.</p>"
        )
    if totals:
        body.append("<h2>Projects</h2>")
        body.append(
            bar_chart(
                [(name, co2, f"{format_co2(co2)} ({count} runs)") for name, co2, count in totals],
                "CO2e per project, all runs",
            )
        )
        links = "".join(
            f'<li><a href="#{_project_id(i)}">{esc(name)}</a>: {esc(format_co2(co2))} over {count} runs</li>'
            for i, (name, co2, count) in enumerate(totals)
        )
        body.append(f"<ul>{links}</ul>")
    pages: dict[str, str] = {}
    for run in runs:  # a page for every stored run
        report = store.report(run["id"])
        if report is not None:
            pages[run_page(run["id"])] = render_html(report, top=50)
    for index, (name, _, _) in enumerate(totals):
        project_runs = by_project[name]
        latest = project_runs[0]
        body.append(f'<section id="{_project_id(index)}"><h2>Project <code>{esc(name)}</code></h2>')
        branches = sorted({r["branch"] or "-" for r in project_runs})
        body.append(
            f"<p>{len(project_runs)} runs on {len(branches)} branch(es): "
            + ", ".join(f"<code>{esc(b)}</code>" for b in branches[:10])
            + (" ..." if len(branches) > 10 else "")
            + "</p>"
        )
        body.append(_series_sections(store, project_runs, top_tests=5))
        report = store.report(latest["id"])
        if report is not None:
            body.append(run_section(report, top, heading="h3"))
            body.append(f'<p><a href="{esc(run_page(latest["id"]))}">The whole page of this run</a></p>')
        body.append("</section>")
    if runs:
        pages["runs.html"] = _runs_page(runs)
        body.append('<p><a href="runs.html">Every stored run</a>, newest first.</p>')
    if runs:
        body.append(equivalents_sources())
    return page("pytest-carbon dashboard", "\n".join(body)), pages


def write_dashboard(store: Store, out_dir: Path, top: int = 15) -> Path:
    """Write the site into ``out_dir``; return the path of ``index.html``."""
    from pytest_carbon.outputs import write_text as write_text_atomic

    index, pages = render_dashboard(store, top)
    for name, text in pages.items():
        write_text_atomic(out_dir / name, text)
    write_text_atomic(out_dir / "index.html", index)
    return out_dir / "index.html"
