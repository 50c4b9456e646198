"""``report.build_report`` on plain records built here: no pytester, no session object."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_carbon import model
from pytest_carbon.meter import AllFigures, Totals
from pytest_carbon.report import RunFacts, WorkerFacts, build_report
from pytest_carbon.reports.json import write_json
from pytest_carbon.summary import ranked

FACTOR = 400.0 / 3.6e6  # 400 g/kWh, PUE 1: grams per joule


@dataclass
class Records:
    """The columns the session keeps of its tests (``session.TestRecords``), as plain lists."""

    nodeids: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    files: list[str | None] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    workers: list[str | None] = field(default_factory=list)
    subtests: dict[int, list[int]] = field(default_factory=dict)
    attempts: dict[int, int] = field(default_factory=dict)
    failures: dict[int, dict[str, str]] = field(default_factory=dict)
    blocks: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, nodeid: str, outcome: str = "passed", worker: str | None = None) -> None:
        self.nodeids.append(nodeid)
        self.outcomes.append(outcome)
        self.files.append(nodeid.split("::")[0])
        self.lines.append(len(self.nodeids))
        self.workers.append(worker)


def _facts(**changes: Any) -> RunFacts:
    facts = RunFacts(
        run_id="0123456789abcdef",
        started_at=1_700_000_000.0,
        finished_at=1_700_000_012.0,
        project="demo",
        git={"commit": "abc", "branch": "main"},
        ci={},
        machine={"hostname": "h", "cpu_model": "Test CPU", "threads": 4, "ram_gb": 8.0, "probes": []},
        scope="process",
        complete=True,
        exit_status=0,
        advice_providers=None,
    )
    return facts._replace(**changes)


def _figures(energies: list[float], extra: dict[str, list[float]] | None = None) -> AllFigures:
    figures = AllFigures(len(energies))
    for i, energy in enumerate(energies):
        figures.duration_s[i] = 0.01 * (i + 1)
        figures.cpu_time_s[i] = 0.005 * (i + 1)
        figures.energy_j[i] = energy
        figures.dynamic_energy_j[i] = energy / 2
        figures.components_j["cpu"][i] = energy * 0.75
        figures.components_j["ram"][i] = energy * 0.25
    for comp, column in (extra or {}).items():
        figures.components_j[comp] = list(column)
    return figures


def _totals(energy_j: float, **changes: Any) -> Totals:
    values: dict[str, Any] = {
        "duration_s": 12.0,
        "energy_j": energy_j,
        "components_j": {"cpu": energy_j * 0.75, "ram": energy_j * 0.25},
        "static_j": energy_j / 2,
        "dynamic_j": energy_j / 2,
        "dynamic_components_j": {"cpu": energy_j * 0.4, "ram": energy_j * 0.1},
        "machine_energy_j": energy_j * 3,
        "intervals": 120,
    }
    values.update(changes)
    return Totals(**values)


PROBES = [
    {"name": "rapl", "components": ["cpu", "ram"], "measured": True, "inputs": {}, "notes": [], "error": None},
    {"name": "nvml", "components": ["gpu"], "measured": True, "inputs": {}, "notes": [], "error": None},
]
REGION = {
    "code": "FR",
    "name": "France",
    "source": "command line",
    "intensity_g_per_kwh": 400.0,
    "intensity_source": "a table",
    "year": 2024,
    "basis": "lifecycle",
    "table": "countries",
    "pue": 1.0,
    "live": False,
    "known": True,
    "note": None,
}


def _three() -> tuple[Records, AllFigures]:
    records = Records()
    for name in ("test_a.py::test_small", "test_a.py::test_big", "test_b.py::test_mid"):
        records.add(name)
    return records, _figures([1.0, 5.0, 2.5])


def _build(records: Records, figures: AllFigures, totals: Totals | None = None, **kwargs: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"region": REGION, "factor": FACTOR, "probes": PROBES}
    options.update(kwargs)
    run = options.pop("run", _facts())
    return build_report(run, records, figures, totals or _totals(10.0), **options)


def test_one_entry_a_test_in_the_order_recorded_with_the_model_s_keys() -> None:
    records, figures = _three()
    report = _build(records, figures)
    tests = report["tests"]
    assert [t["nodeid"] for t in tests] == records.nodeids
    for i, entry in enumerate(tests):
        assert tuple(entry) == model.TEST_KEYS
        assert entry["energy_j"] == figures.energy_j[i]
        assert entry["dynamic_energy_j"] == figures.dynamic_energy_j[i]
        assert entry["duration_s"] == figures.duration_s[i]
        assert entry["cpu_time_s"] == figures.cpu_time_s[i]
        assert entry["co2_g"] == pytest.approx(figures.energy_j[i] * FACTOR)
        assert entry["components_j"] == {"cpu": figures.energy_j[i] * 0.75, "ram": figures.energy_j[i] * 0.25, "gpu": 0}
        assert (entry["file"], entry["line"], entry["worker"]) == (records.files[i], i + 1, None)
        # the JSON writer and the store take their direct path for the plugin's own entries
        assert model.plugin_figures(entry) is not None


def test_what_else_is_known_of_a_test_only_where_it_is_known() -> None:
    records, figures = _three()
    records.outcomes[1] = "failed"
    records.subtests[0] = [3, 1]
    records.attempts[1] = 2
    records.failures[1] = {"when": "call", "message": "assert 1 == 2", "type": "AssertionError", "text": "..."}
    records.blocks[2] = [{"name": "parse", "energy_j": 0.5}]
    tests = _build(records, figures)["tests"]
    assert tests[0]["subtests"] == {"count": 3, "failed": 1}
    assert tests[1]["attempts"] == 2 and tests[1]["outcome"] == "failed"
    assert tests[1]["failure"]["message"] == "assert 1 == 2"
    assert tests[2]["blocks"] == [{"name": "parse", "energy_j": 0.5}]
    assert set(tests[0]) == {*model.TEST_KEYS, "subtests"}
    assert set(tests[1]) == {*model.TEST_KEYS, "attempts", "failure"}
    assert set(tests[2]) == {*model.TEST_KEYS, "blocks"}


def test_a_component_a_probe_adds_comes_after_cpu_ram_gpu() -> None:
    records, _ = _three()
    figures = _figures([1.0, 5.0, 2.5], extra={"npu": [0.1, 0.2, 0.3]})
    entry = _build(records, figures)["tests"][1]
    assert list(entry["components_j"]) == ["cpu", "ram", "gpu", "npu"]
    assert entry["components_j"]["npu"] == 0.2


def test_session_totals_and_conservation() -> None:
    records, figures = _three()
    totals = _totals(10.0)
    session = _build(records, figures, totals)["session"]
    assert session["energy_j"] == 10.0
    assert session["co2_g"] == pytest.approx(10.0 * FACTOR)
    assert session["components_j"] == {"cpu": 7.5, "ram": 2.5, "gpu": 0.0}
    assert session["tests_energy_j"] == math.fsum([1.0, 5.0, 2.5])
    # the tests and the remainder (collection, plugin work, gaps) add up to the session
    assert session["tests_energy_j"] + session["unattributed_energy_j"] == pytest.approx(session["energy_j"])
    assert session["unattributed_energy_j"] == pytest.approx(1.5)
    assert (session["static_energy_j"], session["dynamic_energy_j"]) == (5.0, 5.0)
    assert session["machine_energy_j"] == 30.0 and session["samples"] == 120 and session["duration_s"] == 12.0


def test_ranking_and_top_from_the_report() -> None:
    records, figures = _three()
    report = _build(records, figures)
    top = ranked(report["tests"], "energy")[:2]
    assert [t["nodeid"] for t in top] == ["test_a.py::test_big", "test_b.py::test_mid"]
    # the entries themselves keep the order the tests ran in
    assert report["tests"][0]["nodeid"] == "test_a.py::test_small"


def test_region_and_how_each_figure_was_obtained() -> None:
    records, figures = _three()
    report = _build(records, figures, failed_probes={"nvml": "NVML went away"})
    assert report["region"] == REGION and report["region"] is not REGION
    assert report["scope"] == "process"
    probes = report["machine"]["probes"]
    assert [p["name"] for p in probes] == ["rapl", "nvml"]
    assert all(p["measured"] for p in probes)
    assert probes[1]["error"] == "NVML went away" and probes[0]["error"] is None
    assert all("band" in p for p in probes)
    assert report["machine"]["cpu_model"] == "Test CPU"
    assert any("probe nvml failed during the session (NVML went away)" in m for m in report["missing"])
    assert report["advice"] is None or isinstance(report["advice"], dict)


def test_no_region_no_co2_and_a_replaced_probe() -> None:
    records, figures = _three()
    report = _build(
        records, figures, region=None, factor=0.0, failed_probes={"rapl": "gone"}, replacements={"rapl": "model"}
    )
    assert report["region"] == {}
    assert report["session"]["co2_g"] == 0.0 and all(t["co2_g"] == 0.0 for t in report["tests"])
    (line,) = [m for m in report["missing"] if m.startswith("probe rapl")]
    assert "estimated by the model probe instead of measured" in line


def test_no_probe_for_cpu_or_memory_is_said() -> None:
    records, figures = _three()
    report = _build(records, figures, probes=PROBES[1:])
    assert "no probe covered the CPU or memory: energy figures are 0" in report["missing"]


def test_run_facts() -> None:
    records, figures = _three()
    report = _build(records, figures, run=_facts(finished_at=None, complete=False, exit_status=2))
    run = report["run"]
    assert run["id"] == "0123456789abcdef"
    assert run["started_at"] == run["finished_at"] == "2023-11-14T22:13:20Z"
    assert run["project"] == "demo" and run["git"] == {"commit": "abc", "branch": "main"}
    assert run["exit_status"] == 2 and report["complete"] is False
    assert report["schema_version"] == model.SCHEMA_VERSION


def test_figures_of_another_length_are_zeros() -> None:
    records, _ = _three()
    tests = _build(records, AllFigures(0))["tests"]
    assert [t["energy_j"] for t in tests] == [0.0, 0.0, 0.0]


def test_inputs_are_not_modified() -> None:
    records, figures = _three()
    records.blocks[2] = [{"name": "parse", "energy_j": 0.5}]
    totals = _totals(10.0)
    probes = copy.deepcopy(PROBES)
    region = dict(REGION)
    workers = WorkerFacts(outputs={"gw0": {"dynamic_j": 1.0, "dynamic_components_j": {"cpu": 1.0}}})
    before = copy.deepcopy((vars(records), probes, region, workers))
    columns = (list(figures.energy_j), {c: list(v) for c, v in figures.components_j.items()})
    sums = (totals.energy_j, dict(totals.components_j), dict(totals.dynamic_components_j), totals.dynamic_j)
    build_report(
        _facts(),
        records,
        figures,
        totals,
        region=region,
        factor=FACTOR,
        probes=probes,
        failed_probes={"rapl": "gone"},
        workers=workers,
    )
    assert (vars(records), probes, region, workers) == before
    assert (list(figures.energy_j), {c: list(v) for c, v in figures.components_j.items()}) == columns
    assert (totals.energy_j, dict(totals.components_j), dict(totals.dynamic_components_j), totals.dynamic_j) == sums
    assert "band" not in probes[0]


def test_controller_adds_the_workers_dynamic_energy() -> None:
    records = Records()
    records.add("t.py::a", worker="gw0")
    records.add("t.py::b", worker="gw1")
    figures = _figures([1.0, 2.0])
    workers = WorkerFacts(
        outputs={
            "gw0": {"dynamic_j": 2.0, "dynamic_components_j": {"cpu": 2.0}},
            "gw1": {"dynamic_j": 1.0, "dynamic_components_j": {"ram": 1.0}, "failed_probes": {"rapl": "gone"}},
        },
        partial_totals=[_totals(4.0, dynamic_j=0.5, dynamic_components_j={"cpu": 0.5})],
    )
    totals = _totals(10.0)
    session = _build(records, figures, totals, workers=workers)["session"]
    assert session["energy_j"] == pytest.approx(5.0 + 5.0 + 2.0 + 1.0 + 0.5)
    assert session["components_j"]["cpu"] == pytest.approx(7.5 + 2.0 + 0.5)
    assert session["components_j"]["ram"] == pytest.approx(2.5 + 1.0)
    assert session["tests_energy_j"] + session["unattributed_energy_j"] == pytest.approx(session["energy_j"])
    missing = _build(records, figures, totals, workers=workers)["missing"]
    assert "probe rapl failed on worker gw1 (gone); its energy after that is missing" in missing
    # in scope machine the controller's totals are the machine's already
    machine = _build(records, figures, totals, workers=workers, run=_facts(scope="machine"))["session"]
    assert machine["energy_j"] == 10.0


def test_dead_workers_and_tests_without_figures_are_said() -> None:
    records = Records()
    for i in range(7):
        records.add(f"t.py::test_{i}", worker="gw0")
    workers = WorkerFacts(
        outputs={}, dead={"gw0": "crashed"}, lost_tests={"gw0": ["t.py::test_6"]}, no_figures={6, 5, 4, 3, 2, 1}
    )
    missing = _build(records, _figures([1.0] * 7), workers=workers)["missing"]
    assert missing[0].startswith("6 test(s) have no figures because their worker died before sending them")
    assert missing[0].endswith("t.py::test_1, t.py::test_2, t.py::test_3, t.py::test_4, t.py::test_5 ...")
    assert missing[1].startswith("worker gw0 died (crashed) while running t.py::test_6 (reported failed")


def test_the_report_validates_and_loads_back(tmp_path: Path) -> None:
    records, figures = _three()
    records.subtests[0] = [2, 0]
    report = _build(records, figures)
    jsonschema.validate(report, model.schema())
    path = tmp_path / "carbon.json"
    write_json(report, path)
    loaded = model.load_report(path)
    assert loaded["session"]["energy_j"] == report["session"]["energy_j"]
    assert [t["nodeid"] for t in loaded["tests"]] == records.nodeids
    assert json.loads(path.read_text(encoding="utf-8"))["run"]["id"] == "0123456789abcdef"
