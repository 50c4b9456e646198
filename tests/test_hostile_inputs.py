"""Inputs bounded and checked: saved reports (deep, not UTF-8, NaN, negative), counts and the sampler period.

Every command that loads a saved report (``report``, ``compare``, ``merge``, ``store push`` and the
plugin's ``--carbon-compare``) goes through one loader; each bad file is tried through each of them.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reportdata import make_report

from pytest_carbon.cli import main


def _text(report: dict[str, Any]) -> str:
    # NaN and Infinity as Python's json writes them (allow_nan), as a hand-edited or foreign file may hold
    return json.dumps(report)


def _with(change: Callable[[dict[str, Any]], None]) -> bytes:
    report = make_report()
    change(report)
    return _text(report).encode()


DEEP = b'{"schema_version": 1, "session": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
#: below the parser's own limit, above the loader's
NESTED_100 = _with(lambda r: r.__setitem__("extra", json.loads("[" * 100 + "]" * 100)))

#: (file content, words of the message after the file's name)
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "deep": (DEEP, "is nested too deeply"),
    "nested 100": (NESTED_100, "is nested more than 64 levels deep (under 'extra')"),
    "not UTF-8": (
        _text(make_report()).replace('"demo"', '"d\\u00e9mo"').encode().replace(b"\\u00e9", b"\xe9"),
        "is not UTF-8",
    ),
    "NaN session energy": (
        _with(lambda r: r["session"].__setitem__("energy_j", float("nan"))),
        "session.energy_j is NaN",
    ),
    "infinite test CO2e": (
        _with(lambda r: r["tests"][1].__setitem__("co2_g", float("inf"))),
        "tests[1].co2_g (test tests/test_a.py::test_y) is Infinity",
    ),
    "negative test energy": (
        _with(lambda r: r["tests"][0].__setitem__("energy_j", -449617.0)),
        "tests[0].energy_j (test tests/test_a.py::test_x) is -449617.0; a report holds a number of 0 or more",
    ),
    "negative component": (
        _with(lambda r: r["session"]["components_j"].__setitem__("ram", -1)),
        "session.components_j.ram is -1",
    ),
    "NaN elsewhere": (
        _with(lambda r: r.__setitem__("budget", {"session": {"limit_si": float("nan")}})),
        "budget.session.limit_si is NaN",
    ),
    "PUE below 1": (
        _with(lambda r: r["region"].__setitem__("pue", 0.2)),
        "region.pue is 0.2; a report holds a number of 1 or more",
    ),
}


@pytest.fixture(params=BAD_FILES.values(), ids=BAD_FILES.keys())
def bad_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    content, words = request.param
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    return str(path), words


def _good(tmp_path: Path) -> str:
    path = tmp_path / "good.json"
    path.write_text(json.dumps(make_report(run_id="1" * 32)), encoding="utf-8")
    return str(path)


COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "report": lambda bad, tmp: ["report", bad],
    "report --csv": lambda bad, tmp: ["report", bad, "--csv", str(tmp / "out.csv")],
    "compare (base)": lambda bad, tmp: ["compare", bad, _good(tmp)],
    "compare (new)": lambda bad, tmp: ["compare", _good(tmp), bad],
    "merge": lambda bad, tmp: ["merge", _good(tmp), bad, "-o", str(tmp / "all.json")],
    "store push": lambda bad, tmp: ["store", "push", bad, "--store", str(tmp / "h.sqlite")],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_bad_reports_are_refused_naming_the_file_and_the_key(
    bad_file: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], command: Callable[..., list[str]]
) -> None:
    path, words = bad_file
    argv = command(path, tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert f"{path}: {words}" in err or f"{path} {words}" in err, err
    assert "Traceback" not in out + err and "RecursionError" not in err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "all.json").exists()
    if (tmp_path / "h.sqlite").exists():
        with sqlite3.connect(tmp_path / "h.sqlite") as db:
            assert db.execute("select count(*) from runs").fetchone() == (0,)


@pytest.mark.parametrize("key", ["deep", "not UTF-8", "NaN session energy", "negative test energy"])
def test_a_bad_baseline_stops_the_run_before_the_first_test(pytester: pytest.Pytester, key: str) -> None:
    content, words = BAD_FILES[key]
    (pytester.path / "base.json").write_bytes(content)
    pytester.makepyfile("def test_a(): raise SystemExit('must not run')")
    result = pytester.runpytest("--carbon", "--carbon-compare=base.json", "--carbon-store=off")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--carbon-compare: base.json" in err and words in err, err
    assert "must not run" not in result.stdout.str() and "Traceback" not in err + result.stdout.str()


def test_a_good_report_still_loads_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _good(tmp_path)
    assert main(["report", good]) == 0
    assert main(["compare", good, good]) == 0
    assert main(["merge", good, "-o", str(tmp_path / "all.json")]) == 0
    assert main(["report", str(tmp_path / "all.json")]) == 0  # a merged report passes its own loader
    assert main(["store", "push", good, "--store", str(tmp_path / "h.sqlite")]) == 0
    capsys.readouterr()


COUNTS = [
    ["report", "R", "--top", "-3"],
    ["compare", "R", "R", "--top", "-1"],
    ["history", "--limit", "-5"],
    ["dashboard", "-o", "site", "--top", "-2"],
    ["report", "R", "--top", "many"],
]


@pytest.mark.parametrize("argv", COUNTS, ids=[" ".join(a) for a in COUNTS])
def test_counts_are_whole_numbers_of_0_or_more(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    good = _good(tmp_path)
    assert main([good if a == "R" else a for a in argv]) == 2
    out, err = capsys.readouterr()
    assert "expected a whole number of 0 or more" in err and out == ""
    assert not (tmp_path / "site").exists() and not (tmp_path / ".carbon").exists()


def test_report_top_0_lists_no_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", _good(tmp_path), "--top", "0"]) == 0
    out = capsys.readouterr().out
    assert "test_x" not in out and "test_y" not in out


def _carbon_section(stdout: str) -> str:
    """The plugin's part of the terminal summary: from its ``= carbon =`` line to pytest's last line."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ carbon =+$", line))
    return "\n".join(lines[start + 1 : -1])


@pytest.mark.parametrize("origin", ["command line", "ini", "environment"])
def test_carbon_top_0_shows_no_test(
    carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    carbon_pytester.makepyfile("def test_first(): pass\n\ndef test_second(): pass\n")
    args = ["--carbon", "--carbon-markdown=r.md", "--carbon-store=off"]
    control = _carbon_section(carbon_pytester.runpytest(*args, "--carbon-top=1").stdout.str())
    assert " tests by " in control and ("test_first" in control) != ("test_second" in control)  # top 1: one listed
    if origin == "command line":
        args.append("--carbon-top=0")
    elif origin == "ini":
        carbon_pytester.makeini("[pytest]\ncarbon_top = 0\n")
    else:
        monkeypatch.setenv("PYTEST_CARBON_TOP", "0")
    result = carbon_pytester.runpytest(*args)
    assert result.ret == 0
    section = _carbon_section(result.stdout.str())
    assert "carbon: " in section and " tests by " not in section  # the totals, no ranking
    assert "test_first" not in section and "test_second" not in section
    markdown = (carbon_pytester.path / "r.md").read_text(encoding="utf-8")
    assert "Tests**: 2" in markdown  # the totals are there, no test is listed
    assert "test_first" not in markdown and "test_second" not in markdown and "by energy" not in markdown


@pytest.mark.parametrize("value", ["1e308", "1e-9", "0", "-1", "61", "0.009", "nan", "inf"])
@pytest.mark.parametrize("source", ["command line", "ini", "environment"])
def test_the_sampler_period_is_bounded(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str, source: str
) -> None:
    pytester.makepyfile("def test_a(): raise SystemExit('must not run')")
    args = ["--carbon"]
    if source == "command line":
        args.append(f"--carbon-period={value}")
    elif source == "ini":
        pytester.makeini(f"[pytest]\ncarbon_period = {value}\n")
    else:
        monkeypatch.setenv("PYTEST_CARBON_PERIOD", value)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "expected a number of seconds from 0.01 to 60" in result.stderr.str()
    assert "must not run" not in result.stdout.str()


@pytest.mark.parametrize("value", ["0.01", "60"])
def test_the_period_bounds_themselves_are_accepted(carbon_pytester: pytest.Pytester, value: str) -> None:
    carbon_pytester.makepyfile("def test_a(): pass")
    result = carbon_pytester.runpytest("--carbon", f"--carbon-period={value}", "--carbon-store=off")
    assert result.ret == 0


def test_estimate_jsonl_answers_a_deep_line_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    text = "[" * 100_000 + "]" * 100_000 + '\n{"threads": 4}\n'
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["estimate", "--jsonl"]) == 1  # a line was bad
    deep, good = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert deep == {"error": "invalid JSON: nested too deeply; expected one flat JSON object"}
    assert good["total_w"] > 0
