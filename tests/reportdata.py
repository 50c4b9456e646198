"""A small factory of report dicts that follow the JSON report contract (schema version 1)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

FR = {
    "code": "FR",
    "name": "France",
    "source": "command line",
    "intensity_g_per_kwh": 41.44,
    "intensity_source": "OWID/Ember",
    "year": 2025,
    "basis": "generation, lifecycle",
    "table": "countries",
    "pue": 1.0,
    "live": False,
    "known": True,
    "note": None,
}

AWS_IE = {
    "code": "aws:eu-west-1",
    "name": "AWS Europe (Ireland)",
    "source": "cloud:aws env AWS_REGION",
    "intensity_g_per_kwh": 278.0,
    "intensity_source": "OWID/Ember",
    "year": 2025,
    "basis": "generation, lifecycle",
    "table": "cloud_regions",
    "pue": 1.15,
    "live": False,
    "known": True,
    "note": None,
}

MODEL_PROBE = {
    "name": "model",
    "components": ["cpu", "ram"],
    "measured": False,
    "inputs": {"cpu_model": "Intel Xeon Platinum 8370C", "tdp_w": 270, "threads": 2},
    "notes": [],
    "error": None,
}


def factor(region: dict[str, Any]) -> float:
    """Grams of CO2e per joule for a region dict."""
    return float(region["intensity_g_per_kwh"]) * float(region["pue"]) / 3.6e6


def test_entry(nodeid: str, energy_j: float, region: dict[str, Any] = FR, **extra: Any) -> dict[str, Any]:
    """One test entry; CO2e follows from the energy and the region."""
    entry: dict[str, Any] = {
        "nodeid": nodeid,
        "outcome": "passed",
        "duration_s": energy_j / 20.0,
        "cpu_time_s": energy_j / 25.0,
        "energy_j": energy_j,
        "dynamic_energy_j": energy_j * 0.8,
        "co2_g": energy_j * factor(region),
        "components_j": {"cpu": energy_j * 0.9, "ram": energy_j * 0.1, "gpu": 0.0},
        "file": nodeid.split("::")[0],
        "line": 3,
        "worker": None,
    }
    entry.update(extra)
    return entry


def make_report(
    tests: Sequence[tuple[str, float]] = (("tests/test_a.py::test_x", 1.0), ("tests/test_a.py::test_y", 2.0)),
    *,
    region: dict[str, Any] = FR,
    remainder_j: float = 0.5,
    run_id: str = "0" * 32,
    probes: Sequence[dict[str, Any]] = (MODEL_PROBE,),
) -> dict[str, Any]:
    """A complete report for ``tests`` given as (nodeid, energy_j) pairs."""
    region = copy.deepcopy(region)
    entries = [test_entry(nodeid, energy_j, region) for nodeid, energy_j in tests]
    tests_j = sum(e["energy_j"] for e in entries)
    energy_j = tests_j + remainder_j
    return {
        "schema_version": 1,
        "tool": {"name": "pytest-carbon", "version": "0.1.0"},
        "complete": True,
        "run": {
            "id": run_id,
            "started_at": "2026-11-29T03:00:00Z",
            "finished_at": "2026-11-29T03:00:02Z",
            "project": "demo",
            "git": {"commit": "a" * 40, "branch": "main"},
            "ci": {"provider": None},
            "exit_status": 0,
        },
        "machine": {
            "hostname": "runner",
            "cpu_model": "Intel Xeon Platinum 8370C",
            "threads": 2,
            "ram_gb": 7.8,
            "os": "Linux",
            "python": "3.11.7",
            "probes": [copy.deepcopy(p) for p in probes],
        },
        "scope": "process",
        "region": region,
        "session": {
            "duration_s": 2.0,
            "energy_j": energy_j,
            "co2_g": energy_j * factor(region),
            "components_j": {"cpu": energy_j * 0.9, "ram": energy_j * 0.1, "gpu": 0.0},
            "tests_energy_j": tests_j,
            "unattributed_energy_j": remainder_j,
            "machine_energy_j": energy_j * 1.5,
        },
        "missing": [],
        "tests": entries,
    }


#: node ids that break naive XML, Markdown and CSV writers
NASTY_IDS = [
    "tests/test_n.py::test_p[<a & b>]",
    "tests/test_n.py::test_p[\"quoted\" 'single']",
    "tests/test_n.py::test_p[a|b`c`]",
    "tests/test_n.py::test_p[line1\nline2]",
    "tests/test_n.py::test_p[héllo-日本-🌍]",
    "tests/test_n.py::test_p[comma,semi;tab\t]",
]
