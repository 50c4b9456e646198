"""CSV with CodeCarbon's ``emissions.csv`` columns, so CodeCarbon's readers and dashboards load it.

Units follow CodeCarbon: ``emissions`` in kg CO2e, ``emissions_rate`` in kg/s, energies in kWh,
powers in W (average over the row's duration), ``duration`` in s, ``ram_total_size`` in GB.

Two files, so that summing a column gives a true total:

* ``--carbon-csv=PATH``, the log of runs, like CodeCarbon's own file: one row a run (``experiment_id``
  ``session``; its figures include the remainder outside tests), added at the end of the file by
  ``outputs.append_lines``, the header written once;
* ``--carbon-csv-tests=PATH``, the tests of the latest run: one row a test (``experiment_id``: the
  node id), no session row, the file replaced at each run.
``run_id`` is the report's run id; ``codecarbon_version`` is left empty and ``tracking_mode``
holds the report's scope (process or machine), which is what CodeCarbon's column means.

Formula injection (OWASP's rule): a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a single quote in front (``'=1+2``), so that a spreadsheet shows it as
text instead of running it as a formula. Numbers are written as numbers, a negative one too
(``-0.5``), and so is a text cell that is a plain decimal number (``-3``, ``+1.5e3``): a
spreadsheet reads it as that number, never as a formula.
"""

from __future__ import annotations

import csv
import io
import os
import re
from typing import Any

from pytest_carbon.units import J_PER_KWH

COLUMNS: tuple[str, ...] = (
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "on_cloud",
    "pue",
)

SESSION_ID = "session"

#: the first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FIRST = frozenset(FORMULA_STARTS)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralised(value: Any) -> Any:
    """A cell as written: a text that a spreadsheet would run as a formula gets a ``'`` in front."""
    if type(value) is str and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _where(region: dict[str, Any]) -> dict[str, str]:
    code = str(region.get("code") or "")
    table = region.get("table")
    name = str(region.get("name") or "")
    where = {"country_name": "", "country_iso_code": "", "region": "", "cloud_provider": "", "cloud_region": ""}
    if not region.get("known", True) or not code:
        return where
    if table == "cloud_regions" and ":" in code:
        provider, cloud_region = code.split(":", 1)
        where.update(cloud_provider=provider, cloud_region=cloud_region)
    elif table == "countries":
        where.update(country_name=name, country_iso_code=code)
    else:
        where.update(region=code.removeprefix("zone:"), country_name=name)
    return where


def _row(report: dict[str, Any], experiment_id: str, figures: dict[str, Any]) -> dict[str, Any]:
    machine = report.get("machine") or {}
    region = report.get("region") or {}
    duration_s = float(figures.get("duration_s") or 0.0)
    components = figures.get("components_j") or {}
    emissions_kg = float(figures.get("co2_g") or 0.0) / 1000.0

    def power_w(component: str) -> float:
        return float(components.get(component, 0.0)) / duration_s if duration_s > 0 else 0.0

    gpus = [p for p in machine.get("probes", []) if "gpu" in p.get("components", [])]
    gpu_inputs = gpus[0].get("inputs", {}) if gpus else {}
    where = _where(region)
    return {
        "timestamp": (report.get("run") or {}).get("finished_at", ""),
        "project_name": (report.get("run") or {}).get("project", ""),
        "run_id": (report.get("run") or {}).get("id", ""),
        "experiment_id": experiment_id,
        "duration": duration_s,
        "emissions": emissions_kg,
        "emissions_rate": emissions_kg / duration_s if duration_s > 0 else 0.0,
        "cpu_power": power_w("cpu"),
        "gpu_power": power_w("gpu"),
        "ram_power": power_w("ram"),
        "cpu_energy": float(components.get("cpu", 0.0)) / J_PER_KWH,
        "gpu_energy": float(components.get("gpu", 0.0)) / J_PER_KWH,
        "ram_energy": float(components.get("ram", 0.0)) / J_PER_KWH,
        "energy_consumed": float(figures.get("energy_j") or 0.0) / J_PER_KWH,
        **where,
        "os": machine.get("os", ""),
        "python_version": machine.get("python", ""),
        "codecarbon_version": "",
        "cpu_count": machine.get("threads", ""),
        "cpu_model": machine.get("cpu_model") or "",
        "gpu_count": gpu_inputs.get("gpu_count", gpu_inputs.get("count", "")),
        "gpu_model": gpu_inputs.get("gpu_model", gpu_inputs.get("model", "")),
        "longitude": "",
        "latitude": "",
        "ram_total_size": machine.get("ram_gb") if machine.get("ram_gb") is not None else "",
        "tracking_mode": report.get("scope", ""),
        "on_cloud": "Y" if where["cloud_provider"] else "N",
        "pue": region.get("pue", 1.0),
    }


def rows(report: dict[str, Any], *, tests: bool = False, session: bool = True) -> list[dict[str, Any]]:
    """The session's row (``session``) and/or one row a test (``tests``); text cells neutralised (``neutralised``)."""
    out = [_row(report, str(t["nodeid"]), t) for t in report.get("tests", [])] if tests else []
    if session:
        out.append(_row(report, SESSION_ID, report["session"]))
    starts, plain = _FIRST, _PLAIN_NUMBER.fullmatch
    # neutralised() inline: a call a cell would cost a quarter of the CSV's time
    return [
        {
            key: "'" + value if type(value) is str and value[:1] in starts and not plain(value) else value
            for key, value in row.items()
        }
        for row in out
    ]


def _render(found: list[dict[str, Any]], header: bool = True) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    if header:
        writer.writeheader()
    writer.writerows(found)
    return buffer.getvalue()


HEADER = ",".join(COLUMNS) + "\r\n"


def render_csv(report: dict[str, Any]) -> str:
    """The header and the run's row: what ``--carbon-csv`` adds to a new log."""
    return _render(rows(report))


def render_tests_csv(report: dict[str, Any]) -> str:
    """The header and one row a test, no session row: the file of ``--carbon-csv-tests``."""
    return _render(rows(report, tests=True, session=False))


def write_csv(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Add the run's row to the log at ``path`` (the header only where the log is new or empty)."""
    from pytest_carbon.outputs import append_lines

    append_lines(path, HEADER, _render(rows(report), header=False))


def write_tests_csv(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the tests' rows to ``path``, replacing the file (atomically)."""
    from pytest_carbon.outputs import write_text as write_text_atomic

    write_text_atomic(path, render_tests_csv(report))
