"""The report model: one plain dict, the JSON's shape, built once at the end of a session.

Renderers, stores and comparers read only this dict, so a saved report renders exactly as a
live one.
"""

from __future__ import annotations

import math
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_carbon import __version__
from pytest_carbon.meter import AllFigures, Totals
from pytest_carbon.probes.bands import band_of
from pytest_carbon.probes.bands import combined as combined_band
from pytest_carbon.probes.base import COMPONENTS

if TYPE_CHECKING:
    from pytest_carbon.session import CarbonSession

SCHEMA_VERSION = 1


def iso_utc(timestamp: float) -> str:
    """ISO 8601 in UTC with a Z, to the second."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_workers(session: CarbonSession, totals: Totals) -> Totals:
    """Controller of an xdist run: add each worker's own dynamic energy to the controller's totals.

    The controller's meter already holds the machine's static energy over the whole run, counted
    once (the workers charged their tests a share of it while they ran). In scope "machine" the
    controller's totals are the whole machine's, workers included, so nothing is added. A worker
    that died sent no totals: its timeline's, up to the last sample it sent, stand for them.
    """
    if session.role != "controller" or session.settings.scope == "machine":
        return totals
    components = dict(totals.components_j)
    dynamic = dict(totals.dynamic_components_j)
    dynamic_j = totals.dynamic_j
    outputs: list[Any] = list(session.worker_outputs.values())
    outputs += [
        {"dynamic_components_j": partial.dynamic_components_j, "dynamic_j": partial.dynamic_j}
        for partial in session.partial_totals
    ]
    for out in outputs:
        for comp, energy_j in out.get("dynamic_components_j", {}).items():
            components[comp] = components.get(comp, 0.0) + energy_j
            dynamic[comp] = dynamic.get(comp, 0.0) + energy_j
        dynamic_j += out.get("dynamic_j", 0.0)
    return Totals(
        duration_s=totals.duration_s,
        energy_j=totals.static_j + dynamic_j,
        components_j=components,
        static_j=totals.static_j,
        dynamic_j=dynamic_j,
        dynamic_components_j=dynamic,
        machine_energy_j=totals.machine_energy_j,
        intervals=totals.intervals,
    )


def build_report(session: CarbonSession, totals: Totals, *, complete: bool, exit_status: int) -> dict[str, Any]:
    """Assemble the report dict from the session's records and the meter's attribution."""
    from pytest_carbon.runinfo import ci_facts, git_facts, machine_facts, project_name

    root = Path(str(session.config.rootpath))
    region = session.region.to_dict() if session.region is not None else {}
    factor = session._co2_factor()
    tests: list[dict[str, Any]] = []
    append = tests.append
    missing = []
    no_figures = []
    columns = session.figures
    records = session.tests
    if len(columns) != len(records):  # no attribution (the meter never started)
        columns = AllFigures(len(records))
    by_comp = columns.components_j
    extra = [comp for comp in by_comp if comp not in COMPONENTS]
    controller = session.role == "controller"
    without_figures = session.no_figures
    subtests = records.subtests
    attempts = records.attempts
    failures = records.failures
    blocks = records.blocks
    rows = enumerate(
        zip(
            records.nodeids,
            records.outcomes,
            records.files,
            records.lines,
            records.workers,
            columns.duration_s,
            columns.cpu_time_s,
            columns.energy_j,
            columns.dynamic_energy_j,
            by_comp["cpu"],
            by_comp["ram"],
            by_comp["gpu"],
            strict=True,
        )
    )
    for index, (
        nodeid,
        outcome,
        file,
        line,
        worker,
        duration_s,
        cpu_time_s,
        energy_j,
        dynamic_j,
        cpu_j,
        ram_j,
        gpu_j,
    ) in rows:
        entry: dict[str, Any] = {
            "nodeid": nodeid,
            "outcome": outcome,
            "duration_s": duration_s,
            "cpu_time_s": cpu_time_s,
            "energy_j": energy_j,
            "dynamic_energy_j": dynamic_j,
            "co2_g": energy_j * factor,
            "components_j": {"cpu": cpu_j, "ram": ram_j, "gpu": gpu_j},
            "file": file,
            "line": line,
            "worker": worker,
        }
        for comp in extra:
            entry["components_j"][comp] = by_comp[comp][index]
        if controller and index in without_figures:
            no_figures.append(nodeid)
        if index in subtests:
            count, failed = subtests[index]
            entry["subtests"] = {"count": count, "failed": failed}
        if index in attempts:
            entry["attempts"] = attempts[index]
        if index in failures:
            entry["failure"] = failures[index]
        if index in blocks:
            entry["blocks"] = blocks[index]
        append(entry)
    session.figures = AllFigures(0)  # the entries replace the columns: a large session is not held twice
    tests_energy_j = math.fsum(entry["energy_j"] for entry in tests)
    if no_figures:
        missing.append(
            f"{len(no_figures)} test(s) have no figures because their worker died before sending them "
            "(the test it was running, and those that ended in its last sampler period): "
            + ", ".join(no_figures[:5])
            + (" ..." if len(no_figures) > 5 else "")
        )
    for worker, why in sorted(session.dead_workers.items()):
        lost = session.lost_tests.get(worker)
        during = f" while running {', '.join(lost)} (reported failed, as pytest reports it)" if lost else ""
        missing.append(
            f"worker {worker} died ({why}){during}; the report is incomplete; its tests that ended before the "
            "last sample it sent keep their figures"
        )
    totals = _merge_workers(session, totals)
    meter = session.meter
    if meter is not None:
        for name, why in meter.failed_probes.items():
            comps: list[str] = next(
                (d["components"] for d in session.probe_descriptions if d["name"] == name),
                [],
            )
            what = ", ".join(comps) or "its"
            if name in session.replacements:
                missing.append(
                    f"probe {name} failed during the session ({why}); from then on {what} energy is "
                    f"estimated by the {session.replacements[name]} probe instead of measured"
                )
            else:
                missing.append(
                    f"probe {name} failed during the session ({why}); {what} energy after that point "
                    "is missing from every figure"
                )
    covered = {c for d in session.probe_descriptions for c in d["components"]}
    if not covered & {"cpu", "ram"}:
        missing.append("no probe covered the CPU or memory: energy figures are 0")
    if session.role == "controller":
        for worker, out in sorted(session.worker_outputs.items()):
            for name, why in out.get("failed_probes", {}).items():
                missing.append(f"probe {name} failed on worker {worker} ({why}); its energy after that is missing")
    components_j = {c: totals.components_j.get(c, 0.0) for c in COMPONENTS}
    for desc in session.probe_descriptions:
        if desc["name"] in (meter.failed_probes if meter else {}):
            desc["error"] = meter.failed_probes[desc["name"]] if meter else None
        desc["band"] = band_of(desc)  # how far off its figures may be (a counter's own, or the model's)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-carbon", "version": __version__},
        "complete": complete,
        "run": {
            "id": uuid.uuid4().hex,
            "started_at": iso_utc(session.started_at),
            "finished_at": iso_utc(session.finished_at or session.started_at),
            "project": project_name(root, session.settings.project),
            "git": git_facts(root, os.environ),
            "ci": ci_facts(os.environ),
            "exit_status": exit_status,
        },
        "machine": machine_facts(session.probe_descriptions),
        "scope": session.settings.scope,
        "region": region,
        "session": {
            "duration_s": totals.duration_s,
            "energy_j": totals.energy_j,
            "co2_g": totals.energy_j * factor,
            "components_j": components_j,
            "tests_energy_j": tests_energy_j,
            "unattributed_energy_j": totals.energy_j - tests_energy_j,
            "static_energy_j": totals.static_j,
            "dynamic_energy_j": totals.dynamic_j,
            "machine_energy_j": totals.machine_energy_j,
            "samples": totals.intervals,
            "band": combined_band(session.probe_descriptions, components_j),
        },
        "missing": missing,
        "advice": _advice(region, totals.energy_j, session.settings.advice_providers),
        "tests": tests,
    }


def _advice(region: dict[str, Any], energy_j: float, providers: Any) -> dict[str, Any] | None:
    """Cleaner cloud regions for this run (``pytest_carbon.advice``); None when the tables cannot be read."""
    from pytest_carbon.advice import PROVIDERS, advise

    try:
        return advise(region, energy_j, providers=tuple(providers or PROVIDERS))
    except Exception:  # advice is a courtesy: the report never fails for it
        return None
