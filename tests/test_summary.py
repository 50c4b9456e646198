"""The terminal summary: sorting, --carbon-top=all, totals by file/class/module, plurals, what -q lists."""

from __future__ import annotations

import json
import re

import pytest
from reportdata import make_report

from pytest_carbon.summary import group_lines, summary_lines

SUITE = {
    "test_wait": """
import time

def test_sleeps():
    time.sleep(0.5)
""",
    "test_work": """
import time

def _spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

class TestHeavy:
    def test_spins(self):
        _spin(0.15)

    def test_spins_less(self):
        _spin(0.05)

def test_quick():
    pass
""",
}


def _listed(stdout: str) -> list[str]:
    """The node ids of the summary's ranked tests, in their order."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"(top \d+ of |all )?\d+ tests? by ", line))
    out = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        out.append(line.split()[-1])
    return out


@pytest.fixture
def suite(carbon_pytester: pytest.Pytester) -> pytest.Pytester:
    carbon_pytester.makepyfile(**SUITE)
    return carbon_pytester


def _run_sorted(suite: pytest.Pytester, *args: str) -> tuple[str, list[str], dict[str, dict[str, float]]]:
    """The summary, the ranked node ids, and each test's figures from the same run's JSON report."""
    out = suite.runpytest("--carbon", "--carbon-store=off", "--carbon-json=r.json", *args).stdout.str()
    report = json.loads((suite.path / "r.json").read_text(encoding="utf-8"))
    return out, _listed(out), {t["nodeid"]: t for t in report["tests"]}


@pytest.mark.parametrize(
    ("flag", "key", "heading"),
    [
        (None, "dynamic_energy_j", "dynamic energy (above idle)"),
        ("energy", "energy_j", "energy"),
        ("duration", "duration_s", "duration"),
        ("cpu", "cpu_time_s", "CPU time"),
        ("co2", "co2_g", "CO2e"),
    ],
)
def test_the_summary_ranks_by_the_key_asked(suite: pytest.Pytester, flag: str | None, key: str, heading: str) -> None:
    out, listed, figures = _run_sorted(suite, *([f"--carbon-sort={flag}"] if flag else []))
    assert f"all 4 tests by {heading}:" in out
    values = [figures[nodeid][key] for nodeid in listed]
    assert values == sorted(values, reverse=True)
    assert set(listed) == set(figures)


def test_default_ranks_work_above_waiting(suite: pytest.Pytester) -> None:
    _, listed, figures = _run_sorted(suite)
    # sleeping uses no CPU, so its dynamic energy is near 0 however loaded the machine is
    assert listed.index("test_work.py::TestHeavy::test_spins") < listed.index("test_wait.py::test_sleeps")
    sleeps = figures["test_wait.py::test_sleeps"]
    assert sleeps["energy_j"] > 10 * sleeps["dynamic_energy_j"]  # its energy is the idle power while it waits


def test_sort_by_co2_follows_co2() -> None:
    report = make_report([("t.py::a", 1.0), ("t.py::b", 3.0), ("t.py::c", 2.0)])
    report["tests"][0]["co2_g"] = 1.0  # not what the energy says: the sort must read co2_g
    lines = summary_lines(report, sort="co2")
    assert lines[lines.index("all 3 tests by CO2e:") + 1].endswith("t.py::a")


def test_top_all_lists_every_test(suite: pytest.Pytester) -> None:
    two = suite.runpytest("--carbon", "--carbon-store=off", "--carbon-top=2").stdout.str()
    assert "top 2 of 4 tests by dynamic energy (above idle):" in two and len(_listed(two)) == 2
    result = suite.runpytest("--carbon", "--carbon-store=off", "--carbon-top=all")
    assert result.ret == 0
    out = result.stdout.str()
    assert "all 4 tests by dynamic energy (above idle):" in out
    assert len(_listed(out)) == 4


def test_top_refuses_other_words(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--carbon", "--carbon-top=every")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--carbon-top=every: expected a whole number of 0 or more, or all*"])
    result = suite.runpytest("--carbon", "--carbon-sort=speed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--carbon-sort=speed: expected one of: dynamic, energy, co2, duration, cpu*"])


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ("file", {"test_wait.py": 1, "test_work.py": 3}),
        ("module", {"test_wait": 1, "test_work": 3}),
        ("class", {"test_wait.py (functions)": 1, "test_work.py::TestHeavy": 2, "test_work.py (functions)": 1}),
    ],
)
def test_group_totals(suite: pytest.Pytester, by: str, groups: dict[str, int]) -> None:
    result = suite.runpytest("--carbon", "--carbon-store=off", f"--carbon-group-by={by}", "--carbon-json=r.json")
    out = result.stdout.str().splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith(f"totals by {by} "))
    rows = out[start + 1 : start + 1 + len(groups)]
    found = {}
    for row in rows:
        match = re.search(r"(\d+) tests?  (.+)$", row)
        assert match, row
        found[match[2]] = int(match[1])
    assert found == groups
    assert re.search(r"\b1 test  ", "\n".join(rows))  # one test: no "1 tests"


def test_group_totals_add_up() -> None:
    report = make_report([("a/t.py::K::x", 1.0), ("a/t.py::K::y[p::q]", 2.0), ("a/t.py::z", 4.0), ("b.py::w", 8.0)])
    lines = group_lines(report["tests"], "class", sort="energy")
    assert lines[0] == "totals by class (3 classes), by energy:"
    assert lines[1].endswith("1 test  b.py (functions)")
    assert lines[2].endswith("1 test  a/t.py (functions)")
    assert lines[3].endswith("2 tests  a/t.py::K")
    assert lines[3].lstrip().startswith("3 J")
    assert group_lines(report["tests"], "module")[0] == "totals by module (2 modules), by dynamic energy (above idle):"


def test_plurals() -> None:
    one = summary_lines(make_report([("t.py::a", 1.0)]))
    assert one[0].endswith(" 1 test") and "\n1 test by dynamic energy" in "\n".join(one)
    two = summary_lines(make_report())
    assert two[0].endswith(" 2 tests")


def test_quiet_lists_every_artefact_written(suite: pytest.Pytester) -> None:
    names = {
        "--carbon-json": "r.json",
        "--carbon-html": "r.html",
        "--carbon-junit": "r.xml",
        "--carbon-markdown": "r.md",
        "--carbon-csv": "r.csv",
        "--carbon-csv-tests": "t.csv",
    }
    result = suite.runpytest("--carbon", "-q", "--carbon-store=off", *(f"{k}={v}" for k, v in names.items()))
    assert result.ret == 0
    out = result.stdout.str()
    for name in names.values():
        assert (suite.path / name).is_file()
        assert re.search(rf"^\S.*: {re.escape(name)}$", out, flags=re.M), name
    carbon_lines = [line for line in out.splitlines() if line.startswith("carbon: ")]
    assert len(carbon_lines) == 1  # still one summary line
