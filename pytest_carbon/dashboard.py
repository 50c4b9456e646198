"""The dashboard: a static, self-contained site written from the history store.

``index.html`` holds the organisation's totals, per-project totals and trends, and for each
project its latest run (top tests, budgets, equivalents, cleaner regions); ``runs/ID.html`` is
the full page of each project's latest run. No script, no network: charts are inline SVG.
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
    trend_chart,
)
from pytest_carbon.store import Store
from pytest_carbon.units import format_co2, format_energy


def _project_id(index: int) -> str:
    return f"project-{index}"


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
    for index, (name, _, _) in enumerate(totals):
        project_runs = by_project[name]
        latest = project_runs[0]
        oldest_first = list(reversed(project_runs))
        body.append(f'<section id="{_project_id(index)}"><h2>Project <code>{esc(name)}</code></h2>')
        branches = sorted({r["branch"] or "-" for r in project_runs})
        body.append(
            f"<p>{len(project_runs)} runs on {len(branches)} branch(es): "
            + ", ".join(f"<code>{esc(b)}</code>" for b in branches[:10])
            + (" ..." if len(branches) > 10 else "")
            + "</p>"
        )
        body.append(
            trend_chart(
                [(str(r["started_at"] or "?")[:10], float(r["co2_g"] or 0.0)) for r in oldest_first],
                f"CO2e per run of {name}, oldest first",
            )
        )
        report = store.report(latest["id"])
        if report is not None:
            body.append(run_section(report, top, heading="h3"))
            # the run id is data from a report: keep only safe characters in the file name
            file_name = "runs/" + re.sub(r"[^A-Za-z0-9_-]", "_", str(latest["id"]))[:80] + f"-{index}.html"
            pages[file_name] = render_html(report, top=50)
            body.append(f'<p><a href="{esc(file_name)}">The whole page of this run</a></p>')
        body.append("</section>")
    if runs:
        body.append(equivalents_sources())
    return page("pytest-carbon dashboard", "\n".join(body)), pages


def write_dashboard(store: Store, out_dir: Path, top: int = 15) -> Path:
    """Write the site into ``out_dir``; return the path of ``index.html``."""
    from pytest_carbon.reports.json import write_text_atomic

    index, pages = render_dashboard(store, top)
    for name, text in pages.items():
        write_text_atomic(out_dir / name, text)
    write_text_atomic(out_dir / "index.html", index)
    return out_dir / "index.html"
