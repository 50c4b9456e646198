"""The typed settings: one frozen object, every value interpreted once; the error tree; the CLI's exit 2."""

from __future__ import annotations

import ast
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from reportdata import make_report

from pytest_carbon import errors
from pytest_carbon.cli import main
from pytest_carbon.config import BY_NAME, ENABLE, OPTIONS, TOP_ALL, resolve, resolve_settings
from pytest_carbon.settings import Settings

OFF_SPELLINGS = ("off", "none", "false", "0", "no", "OFF", " None ", "No")
ON_SPELLINGS = ("1", "true", "yes", "on", "TRUE", " On ")
SWITCHES = [ENABLE, *(o for o in OPTIONS if o.name in ("carbon_cloud_detect", "carbon_cloud_metadata"))]
SWITCHES += [o for o in OPTIONS if o.name in ("carbon_rapl_psys", "carbon_github_summary")]


def _settings(cli: dict[str, str] | None = None, ini: dict[str, str] | None = None, **environ: str) -> Settings:
    cli, ini = cli or {}, ini or {}
    return resolve_settings(cli.get, ini.get, environ)


def _given(option: Any, origin: str, raw: str) -> Any:
    """``raw`` given for ``option`` on the command line, in the ini file or in the environment."""
    if origin == "command line":
        return resolve(option, raw, None, {}).value
    if origin == "ini":
        return resolve(option, None, raw, {}).value
    return resolve(option, None, None, {option.env: raw}).value


# ---------------------------------------------------------------------------------------- the object


def test_the_settings_are_frozen_and_slotted() -> None:
    settings = _settings({"carbon_top": "3"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.top = 5  # type: ignore[misc]
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        settings.new_field = 1  # type: ignore[attr-defined]
    assert not hasattr(settings, "__dict__")
    assert settings.top == 3 and dataclasses.replace(settings, top=4).top == 4 and settings.top == 3


def test_a_field_for_each_option_and_the_same_defaults() -> None:
    names = {f.name for f in dataclasses.fields(Settings)} - {"origins"}
    assert names == {o.name.removeprefix("carbon_") for o in OPTIONS}
    resolved = _settings()
    assert resolved == Settings()
    assert all(origin == "default" for origin in resolved.origins.values())
    assert len(resolved.origins) == len(OPTIONS)


def _holds(value: Any, hint: Any) -> bool:
    """``value`` is of the annotated type ``hint`` (the forms the settings use)."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_holds(value, arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return isinstance(value, tuple) and all(isinstance(v, typing.get_args(hint)[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


GIVEN = {
    "carbon_json": "r.json",
    "carbon_scope": "Machine",
    "carbon_probe": "model",
    "carbon_region": "FR",
    "carbon_pue": "1.2",
    "carbon_cloud_detect": "no",
    "carbon_cloud_metadata": "off",
    "carbon_sys_root": " /tmp/root ",
    "carbon_live": "uk-carbon-intensity",
    "carbon_live_url": "http://127.0.0.1:9",
    "carbon_uk_postcode": "RG10",
    "carbon_live_cache_s": "0",
    "carbon_cache_dir": "cache",
    "carbon_rapl_root": "powercap",
    "carbon_rapl_psys": "yes",
    "carbon_top": "0",
    "carbon_advice_providers": "gcp",
    "carbon_sort": "cpu",
    "carbon_group_by": "class",
    "carbon_budget": "50 J",
    "carbon_test_budget": "5 mg",
    "carbon_budget_mode": "warn",
    "carbon_compare": "last",
    "carbon_compare_fail": "15%",
    "carbon_compare_metric": "co2",
    "carbon_compare_runs": "3",
    "carbon_compare_branch": "main",
    "carbon_compare_alpha": "0.01",
    "carbon_confirm": "0",
    "carbon_confirm_time": "20%",
    "carbon_junit": "r.xml",
    "carbon_markdown": "-",
    "carbon_csv": "r.csv",
    "carbon_csv_tests": "t.csv",
    "carbon_github_summary": "false",
    "carbon_store": "history.sqlite",
    "carbon_project": "proj",
    "carbon_organisation": "org",
    "carbon_html": "r.html",
    "carbon_period": "0.25",
}


def test_every_value_has_its_fields_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    from pytest_carbon.units import Quantity

    hints = typing.get_type_hints(Settings, localns={"Quantity": Quantity})
    assert set(GIVEN) == {o.name for o in OPTIONS}
    for settings in (Settings(), _settings(), _settings(GIVEN)):
        for f in dataclasses.fields(Settings):
            if f.name != "origins":
                value = getattr(settings, f.name)
                assert _holds(value, hints[f.name]), (f.name, value, hints[f.name])
    given = _settings(GIVEN)
    assert given.scope == "machine" and given.top == 0 and given.confirm == 0 and given.live_cache_s == 0
    assert given.sys_root == "/tmp/root" and given.compare_fail == pytest.approx(0.15)
    assert given.confirm_time == pytest.approx(0.2) and given.budget is not None and given.budget.value_si == 50
    assert given.advice_providers == ("gcp",) and given.cloud_detect is False and given.rapl_psys is True
    assert all(origin == "command line" for origin in given.origins.values())


def test_zero_means_zero_and_all_means_every_test() -> None:
    assert _settings({"carbon_top": "0"}).top == 0
    assert _settings(ini={"carbon_top": "0"}).top == 0
    assert _settings(PYTEST_CARBON_TOP="0").top == 0
    assert _settings({"carbon_top": "all"}).top == TOP_ALL
    assert _settings({"carbon_confirm": "0"}).confirm == 0
    assert _settings({"carbon_live_cache_s": "0"}).live_cache_s == 0


def test_the_origins_are_kept() -> None:
    settings = _settings({"carbon_top": "1"}, {"carbon_sort": "energy"}, PYTEST_CARBON_SCOPE="machine")
    assert settings.origin("carbon_top") == "command line"
    assert settings.origin("carbon_sort") == "ini"
    assert settings.origin("carbon_scope") == "environment"
    assert settings.origin("carbon_region") == "default"
    # the command line wins over the ini file, which wins over the environment
    both = _settings({"carbon_top": "1"}, {"carbon_top": "2"}, PYTEST_CARBON_TOP="3")
    assert both.top == 1 and both.origin("carbon_top") == "command line"
    assert _settings(ini={"carbon_top": "2"}, PYTEST_CARBON_TOP="3").top == 2


@pytest.mark.parametrize("origin", ["command line", "ini", "environment"])
@pytest.mark.parametrize("option", SWITCHES, ids=lambda o: o.name)
def test_each_switch_spelling_is_read_the_same(option: Any, origin: str) -> None:
    assert {_given(option, origin, raw) for raw in OFF_SPELLINGS} == {False}
    assert {_given(option, origin, raw) for raw in ON_SPELLINGS} == {True}
    with pytest.raises(errors.ConfigError, match=r"expected true or false \(1/0, yes/no, on/off\)"):
        _given(option, origin, "maybe")


@pytest.mark.parametrize("origin", ["command line", "ini", "environment"])
def test_every_spelling_of_off_turns_the_store_and_the_live_service_off(origin: str) -> None:
    assert {_given(BY_NAME["carbon_store"], origin, raw) for raw in OFF_SPELLINGS} == {None}
    assert _given(BY_NAME["carbon_store"], origin, "runs.sqlite") == "runs.sqlite"
    assert {_given(BY_NAME["carbon_live"], origin, raw) for raw in OFF_SPELLINGS} == {"off"}
    assert _settings().store == "" and _settings().live == "off"  # not given: the default file, no live data


def test_empty_names_and_paths_are_none() -> None:
    settings = _settings({"carbon_region": " ", "carbon_project": "", "carbon_compare": "  "})
    assert settings.region is None and settings.project is None and settings.compare is None


def test_a_bad_value_still_says_what_to_write(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.ConfigError, match=r"--carbon-top=-1: expected a whole number of 0 or more, or all"):
        _settings({"carbon_top": "-1"})
    with pytest.raises(errors.ConfigError, match=r"carbon_budget = 5 parsecs \(ini file\)"):
        _settings(ini={"carbon_budget": "5 parsecs"})
    with pytest.raises(errors.ConfigError, match=r"PYTEST_CARBON_REGION=XX1: unknown region"):
        _settings(PYTEST_CARBON_REGION="XX1")


# ---------------------------------------------------------------------------------------- a run


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


@pytest.mark.parametrize("compare", ["last", "history", "report"])
@pytest.mark.parametrize("store", ["none", "off", "false", "0", "no"])
def test_a_store_turned_off_creates_no_file(carbon_pytester: pytest.Pytester, store: str, compare: str) -> None:
    carbon_pytester.makepyfile("def test_a(): pass")
    args = ["--carbon", "-p", "no:cacheprovider", f"--carbon-store={store}"]
    if compare == "report":
        first = carbon_pytester.runpytest(
            "--carbon", "-p", "no:cacheprovider", "--carbon-store=off", "--carbon-json=b.json"
        )
        assert first.ret == 0
        args.append("--carbon-compare=b.json")
    else:
        args.append(f"--carbon-compare={compare}")
    before = _files(carbon_pytester.path)
    result = carbon_pytester.runpytest(*args)
    assert result.ret == 0
    assert _files(carbon_pytester.path) == before  # no SQLite file, no .carbon folder, nothing at all
    assert not (carbon_pytester.path / store).exists() and not (carbon_pytester.path / ".carbon").exists()
    out = result.stdout.str()
    assert "history: run stored" not in out and "was NOT stored" not in out
    if compare == "report":
        assert "compared with " in out  # the report given is the baseline
    else:
        result.stdout.fnmatch_lines([f"*--carbon-compare={compare} needs the history store, which is off*"])


@pytest.mark.parametrize("where", ["ini", "environment"])
def test_a_store_turned_off_in_the_ini_or_environment_creates_no_file(
    carbon_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    carbon_pytester.makepyfile("def test_a(): pass")
    if where == "ini":
        carbon_pytester.makeini("[pytest]\ncarbon_store = none\n")
    else:
        monkeypatch.setenv("PYTEST_CARBON_STORE", "no")
    before = _files(carbon_pytester.path)
    result = carbon_pytester.runpytest("--carbon", "-p", "no:cacheprovider", "--carbon-compare=last")
    assert result.ret == 0
    assert _files(carbon_pytester.path) == before
    result.stdout.fnmatch_lines(["*--carbon-compare=last needs the history store, which is off*"])


# ---------------------------------------------------------------------------------------- errors

CLASSES = {
    "ConfigError": (ValueError,),
    "QuantityError": (errors.ConfigError, ValueError),
    "RegionError": (errors.ConfigError, ValueError),
    "OutputError": (ValueError,),
    "ProbeError": (),
    "NotPresent": (errors.ProbeError,),
    "ModelInputError": (ValueError,),
    "LiveError": (),
    "StoreError": (),
    "NoHistory": (errors.StoreError,),
    "ReportError": (ValueError,),
}
OLD_HOMES = {
    "ConfigError": "pytest_carbon.config",
    "QuantityError": "pytest_carbon.units",
    "RegionError": "pytest_carbon.intensity.regions",
    "OutputError": "pytest_carbon.outputs",
    "ProbeError": "pytest_carbon.probes.base",
    "NotPresent": "pytest_carbon.probes._common",
    "ModelInputError": "pytest_carbon.probes.model",
    "LiveError": "pytest_carbon.intensity.live",
    "StoreError": "pytest_carbon.store.base",
    "NoHistory": "pytest_carbon.store.base",
    "ReportError": "pytest_carbon.store.schema",
}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_one_tree_of_errors_and_the_old_names_still_import(name: str) -> None:
    import importlib

    cls = getattr(errors, name)
    assert issubclass(cls, errors.CarbonError)
    assert all(issubclass(cls, base) for base in CLASSES[name])
    assert getattr(importlib.import_module(OLD_HOMES[name]), name) is cls


def test_the_errors_module_is_a_leaf() -> None:
    tree = ast.parse(Path(errors.__file__).read_text(encoding="utf-8"))
    imported = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in imported)


def _report(tmp_path: Path) -> str:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(make_report(run_id="1" * 32)), encoding="utf-8")
    return str(path)


CLI_ERRORS = [
    # (class met, argv, what stderr starts with, what it holds)
    ("ConfigError", ["compare", "R", "R", "--alpha", "2"], "pytest-carbon compare: --alpha: expected a number"),
    ("ConfigError", ["estimate", "--cpu-model", "x"], "pytest-carbon estimate: --threads is needed with --cpu-model"),
    ("ConfigError", ["estimate", "--threads", "four"], "pytest-carbon estimate: --threads must be a whole number"),
    ("ConfigError", ["estimate", "--jsonl", "--threads", "4"], "pytest-carbon estimate: --jsonl reads machines"),
    ("ConfigError", ["regions", "--providers", "aws"], "pytest-carbon regions: --providers goes with --greener-than"),
    ("QuantityError", ["compare", "R", "R", "--fail", "lots"], "pytest-carbon compare: --fail: "),
    ("QuantityError", ["merge", "R", "-o", "all.json", "--budget", "5 parsecs"], "pytest-carbon merge: "),
    ("RegionError", ["regions", "--greener-than", "XX1"], "pytest-carbon: unknown region 'XX1'"),
    ("ModelInputError", ["estimate", "--cpu-model", "x", "--threads", "0"], "pytest-carbon estimate: threads must be"),
    ("ReportError", ["report", "missing.json"], "pytest-carbon report: cannot read missing.json"),
    ("ReportError", ["compare", "missing.json", "R"], "pytest-carbon compare: cannot read missing.json"),
    ("ReportError", ["merge", "missing.json", "-o", "all.json"], "pytest-carbon merge: cannot read missing.json"),
    ("ReportError", ["store", "push", "missing.json"], "pytest-carbon store: missing.json: cannot read missing.json"),
    (
        "ReportError",
        ["store", "push", "pytest-carbon-report-1.json"],
        "pytest-carbon store: pytest-carbon-report-1.json: cannot read pytest-carbon-report-1.json",
    ),
    (
        "OutputError",
        ["report", "R", "--junit", "ftp://h/x.xml"],
        "pytest-carbon report: --junit: ftp://h/x.xml is a URL",
    ),
    ("OutputError", ["merge", "R", "-o", "ftp://h/all.json"], "pytest-carbon merge: -o: ftp://h/all.json is a URL"),
    ("OutputError", ["dashboard", "-o", "-"], "pytest-carbon dashboard: the dashboard is a folder of pages"),
]


@pytest.mark.parametrize(("kind", "argv", "message"), CLI_ERRORS, ids=[f"{c[0]}-{c[1][0]}" for c in CLI_ERRORS])
def test_the_command_line_exits_2_with_the_message(
    kind: str,
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    report = _report(tmp_path)
    assert main([report if a == "R" else a for a in argv]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(message), err
    assert err.count("\n") == 1 and "Traceback" not in err and out == ""
    assert not (tmp_path / "all.json").exists() and not (tmp_path / ".carbon").exists()


def test_each_error_class_the_command_line_meets_is_tried() -> None:
    met = {kind for kind, _, _ in CLI_ERRORS}
    assert met == {"ConfigError", "QuantityError", "RegionError", "ModelInputError", "ReportError", "OutputError"}
