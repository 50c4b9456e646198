"""The report model: one plain dict, the JSON's shape, built once at the end of a session.

Renderers, stores and comparers read only this dict, so a saved report renders exactly as a
live one.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_carbon import __version__
from pytest_carbon.probes.base import COMPONENTS

if TYPE_CHECKING:
    from pytest_carbon.meter import Totals
    from pytest_carbon.session import CarbonSession

SCHEMA_VERSION = 1


def iso_utc(timestamp: float) -> str:
    """ISO 8601 in UTC with a Z, to the second."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_report(session: CarbonSession, totals: Totals, *, complete: bool, exit_status: int) -> dict[str, Any]:
    """Assemble the report dict from the session's records and the meter's attribution."""
    from pytest_carbon.runinfo import ci_facts, git_facts, machine_facts, project_name

    root = Path(str(session.config.rootpath))
    region = session.region.to_dict() if session.region is not None else {}
    factor = session._co2_factor()
    tests = []
    tests_energy_j = 0.0
    for record, fig in zip(session.tests, session.figures, strict=True):
        entry: dict[str, Any] = {
            "nodeid": record.nodeid,
            "outcome": record.outcome,
            **session._test_entry_figures(fig),
            "file": record.file,
            "line": record.line,
            "worker": session._worker,
        }
        if record.subtests:
            entry["subtests"] = {"count": record.subtests, "failed": record.subtests_failed}
        tests.append(entry)
        tests_energy_j += fig.energy_j
    missing = []
    meter = session.meter
    if meter is not None:
        for name, why in meter.failed_probes.items():
            comps: list[str] = next(
                (d["components"] for d in session.probe_descriptions if d["name"] == name),
                [],
            )
            missing.append(
                f"probe {name} failed during the session ({why}); {', '.join(comps) or 'its'} energy "
                "after that point is missing from every figure"
            )
    covered = {c for d in session.probe_descriptions for c in d["components"]}
    if not covered & {"cpu", "ram"}:
        missing.append("no probe covered the CPU or memory: energy figures are 0")
    components_j = {c: totals.components_j.get(c, 0.0) for c in COMPONENTS}
    for desc in session.probe_descriptions:
        if desc["name"] in (meter.failed_probes if meter else {}):
            desc["error"] = meter.failed_probes[desc["name"]] if meter else None
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-carbon", "version": __version__},
        "complete": complete,
        "run": {
            "id": uuid.uuid4().hex,
            "started_at": iso_utc(session.started_at),
            "finished_at": iso_utc(session.finished_at or session.started_at),
            "project": project_name(root, session.options.get("carbon_project") or None),
            "git": git_facts(root, os.environ),
            "ci": ci_facts(os.environ),
            "exit_status": exit_status,
        },
        "machine": machine_facts(session.probe_descriptions),
        "scope": session.options["carbon_scope"],
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
        },
        "missing": missing,
        "tests": tests,
    }
