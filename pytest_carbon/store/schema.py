"""The history's schema, its migrations, and the mapping between a report dict and table rows.

Pure data and SQL text: nothing here opens a database. The schema version lives in code
(``SCHEMA_VERSION``) and in the database's ``meta`` table; migrations are ordered steps, each
bringing the database from version N-1 to N.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pytest_carbon.errors import ReportError as ReportError  # where the store and its callers find it
from pytest_carbon.model import FAILED_OUTCOMES, TEST_KEYS, check_storable, is_number, plugin_figures

SCHEMA_VERSION = 1

#: ``{real}`` is the SQL type of a floating-point column in each dialect
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                project TEXT NOT NULL,
                organisation TEXT,
                branch TEXT,
                commit_sha TEXT,
                ci_provider TEXT,
                ci TEXT,
                started_at TEXT,
                finished_at TEXT,
                stored_at TEXT NOT NULL,
                machine TEXT,
                region TEXT,
                region_code TEXT,
                intensity_g_per_kwh {real},
                pue {real},
                scope TEXT,
                duration_s {real},
                energy_j {real},
                co2_g {real},
                tests_energy_j {real},
                unattributed_energy_j {real},
                machine_energy_j {real},
                test_count INTEGER,
                failed_count INTEGER,
                complete INTEGER NOT NULL,
                exit_status INTEGER,
                tool_version TEXT,
                report TEXT NOT NULL
            )""",
            "CREATE INDEX runs_project_branch ON runs (project, branch, started_at)",
            "CREATE INDEX runs_organisation ON runs (organisation, started_at)",
            """CREATE TABLE tests (
                run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                nodeid TEXT NOT NULL,
                outcome TEXT,
                duration_s {real},
                cpu_time_s {real},
                energy_j {real},
                dynamic_energy_j {real},
                co2_g {real},
                cpu_j {real},
                ram_j {real},
                gpu_j {real},
                file TEXT,
                line INTEGER,
                worker TEXT,
                budget TEXT,
                extra TEXT,
                PRIMARY KEY (run_id, seq)
            )""",
        ),
    ),
)

RUN_COLUMNS = (
    "id",
    "project",
    "organisation",
    "branch",
    "commit_sha",
    "ci_provider",
    "ci",
    "started_at",
    "finished_at",
    "stored_at",
    "machine",
    "region",
    "region_code",
    "intensity_g_per_kwh",
    "pue",
    "scope",
    "duration_s",
    "energy_j",
    "co2_g",
    "tests_energy_j",
    "unattributed_energy_j",
    "machine_energy_j",
    "test_count",
    "failed_count",
    "complete",
    "exit_status",
    "tool_version",
    "report",
)

TEST_COLUMNS = (
    "run_id",
    "seq",
    "nodeid",
    "outcome",
    "duration_s",
    "cpu_time_s",
    "energy_j",
    "dynamic_energy_j",
    "co2_g",
    "cpu_j",
    "ram_j",
    "gpu_j",
    "file",
    "line",
    "worker",
    "budget",
    "extra",
)

#: what ``Store.runs`` returns for each run (the columns that summarise it)
SUMMARY_COLUMNS = (
    "id",
    "project",
    "organisation",
    "branch",
    "commit_sha",
    "ci_provider",
    "started_at",
    "finished_at",
    "region_code",
    "intensity_g_per_kwh",
    "pue",
    "duration_s",
    "energy_j",
    "co2_g",
    "test_count",
    "failed_count",
    "complete",
    "exit_status",
)

_TEST_KEYS = frozenset((*TEST_KEYS, "budget"))  # the keys that have columns of their own
_FAILED = FAILED_OUTCOMES


def _float(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


#: the store's check of a report (``model.check_storable``), by the name it has here
check_report = check_storable


def run_row(report: Mapping[str, Any], project: str | None, organisation: str | None) -> tuple[Any, ...]:
    """The ``runs`` row of a report (checked with ``check_report`` first)."""
    run = report["run"]
    session = report["session"]
    tests = report["tests"]
    git = _mapping(run.get("git"))
    ci = _mapping(run.get("ci"))
    region = _mapping(report.get("region"))
    head = {key: value for key, value in report.items() if key != "tests"}
    name = project or run.get("project") or "unnamed"
    stored_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        run["id"],
        str(name),
        organisation,
        git.get("branch"),
        git.get("commit"),
        ci.get("provider"),
        _dumps(ci) if ci else None,
        run.get("started_at"),
        run.get("finished_at"),
        stored_at,
        _dumps(report.get("machine")),
        _dumps(region) if region else None,
        region.get("code"),
        _float(region.get("intensity_g_per_kwh")),
        _float(region.get("pue")),
        report.get("scope"),
        _float(session.get("duration_s")),
        float(session["energy_j"]),
        float(session["co2_g"]),
        _float(session.get("tests_energy_j")),
        _float(session.get("unattributed_energy_j")),
        _float(session.get("machine_energy_j")),
        len(tests),
        sum(1 for t in tests if t.get("outcome") in _FAILED),
        1 if report.get("complete", True) else 0,
        run.get("exit_status") if isinstance(run.get("exit_status"), int) else None,
        _mapping(report.get("tool")).get("version"),
        _dumps(head),
    )


def test_rows(run_id: str, tests: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The ``tests`` rows of a report's tests, in report order.

    The entries the plugin builds (its keys, float figures) take a direct path; any other entry
    is read key by key, a missing or non-numeric figure stored as NULL and unknown keys kept in
    ``extra``.
    """
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for seq, t in enumerate(tests):
        figures = plugin_figures(t)
        if figures is not None:
            append((run_id, seq, t["nodeid"], t["outcome"], *figures, t["file"], t["line"], t["worker"], None, None))
            continue
        append(_test_row(run_id, seq, t))
    return rows


def _test_row(run_id: str, seq: int, t: Mapping[str, Any]) -> tuple[Any, ...]:
    raw = t.get("components_j")
    comps: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    extra = {k: v for k, v in t.items() if k not in _TEST_KEYS}
    line = t.get("line")
    return (
        run_id,
        seq,
        t["nodeid"],
        t.get("outcome"),
        _float(t.get("duration_s")),
        _float(t.get("cpu_time_s")),
        _float(t.get("energy_j")),
        _float(t.get("dynamic_energy_j")),
        _float(t.get("co2_g")),
        _float(comps.get("cpu")),
        _float(comps.get("ram")),
        _float(comps.get("gpu")),
        t.get("file"),
        line if isinstance(line, int) and not isinstance(line, bool) else None,
        t.get("worker"),
        _dumps(t.get("budget")),
        _dumps(extra) if extra else None,
    )


def test_entry(row: Sequence[Any]) -> dict[str, Any]:
    """A report's test entry from a ``tests`` row (columns in ``TEST_COLUMNS`` order)."""
    values = dict(zip(TEST_COLUMNS, row, strict=True))
    entry: dict[str, Any] = {
        "nodeid": values["nodeid"],
        "outcome": values["outcome"],
        "duration_s": values["duration_s"],
        "cpu_time_s": values["cpu_time_s"],
        "energy_j": values["energy_j"],
        "dynamic_energy_j": values["dynamic_energy_j"],
        "co2_g": values["co2_g"],
        "components_j": {
            "cpu": values["cpu_j"] or 0.0,
            "ram": values["ram_j"] or 0.0,
            "gpu": values["gpu_j"] or 0.0,
        },
        "file": values["file"],
        "line": values["line"],
        "worker": values["worker"],
        "budget": json.loads(values["budget"]) if values["budget"] else None,
    }
    if values["extra"]:
        entry.update(json.loads(values["extra"]))
    return entry


def summary(row: Sequence[Any]) -> dict[str, Any]:
    """A run's summary dict from a row of ``SUMMARY_COLUMNS``."""
    out = dict(zip(SUMMARY_COLUMNS, row, strict=True))
    out["commit"] = out.pop("commit_sha")
    out["complete"] = bool(out["complete"])
    return out
