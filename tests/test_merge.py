"""Merging shard reports: real inner sessions in two regions, the region-mixing rule, the merge command."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema
import pytest
from conftest import load_report
from reportdata import AWS_IE, FR, factor, make_report

from pytest_carbon.cli import main
from pytest_carbon.merge import merge_reports, merged_region, shard_names
from pytest_carbon.reports.json import schema

SHARD_FILES = {
    "test_alpha.py": """
        def spin(n):
            total = 0
            for i in range(n):
                total += i * i
            return total

        def test_small():
            assert spin(20_000) > 0

        def test_large():
            assert spin(200_000) > 0
    """,
    "test_beta.py": """
        import time

        def test_sleep():
            time.sleep(0.02)

        def test_compute():
            assert sum(i for i in range(100_000)) > 0
    """,
    "test_gamma.py": """
        def test_one():
            assert [x * 2 for x in range(50_000)]
    """,
}

#: (shard name, region, files); shard c runs test_alpha.py's small test again: a duplicate id
SHARDS = (
    ("a", "FR", ["test_alpha.py"]),
    ("b", "DE", ["test_beta.py"]),
    ("c", "FR", ["test_gamma.py", "test_alpha.py::test_small"]),
)


def _run_shards(pytester: pytest.Pytester) -> list[Path]:
    """Run the three shards as real inner sessions and return their JSON reports."""
    pytester.makepyfile(**SHARD_FILES)
    paths = []
    for name, region, selection in SHARDS:
        path = pytester.path / f"{name}.json"
        result = pytester.runpytest("--carbon", f"--carbon-json={path}", f"--carbon-region={region}", *selection)
        assert result.ret == 0, result.stdout.str()
        paths.append(path)
    return paths


def _validate(report: dict[str, Any]) -> None:
    jsonschema.validate(report, schema())


def _merge_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["merge", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_three_real_shards_add_up(carbon_pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _run_shards(carbon_pytester)
    shards = [load_report(p) for p in paths]
    out_path = carbon_pytester.path / "all.json"
    code, out, err = _merge_cli(capsys, *map(str, paths), "-o", str(out_path))
    assert code == 0, err
    merged = load_report(out_path)
    _validate(merged)

    session = merged["session"]
    for key in ("energy_j", "co2_g", "duration_s", "tests_energy_j", "unattributed_energy_j"):
        assert session[key] == pytest.approx(sum(s["session"][key] for s in shards), rel=1e-12), key
    for comp in ("cpu", "ram", "gpu"):
        assert session["components_j"][comp] == pytest.approx(
            sum(s["session"]["components_j"][comp] for s in shards), rel=1e-12, abs=1e-15
        )
    assert len(merged["tests"]) == sum(len(s["tests"]) for s in shards) == 6
    assert session["energy_j"] > 0 and session["shards"] == 3
    assert merged["complete"] is True
    assert f"{len(merged['tests'])} test(s)" in out

    # each test keeps its own figures and says where it ran
    by_shard = {name: [t for t in merged["tests"] if t["shard"] == name] for name, _, _ in SHARDS}
    for (name, region, _), shard in zip(SHARDS, shards, strict=True):
        kept = [{k: v for k, v in t.items() if k not in ("shard", "region", "duplicate")} for t in by_shard[name]]
        assert kept == shard["tests"]
        assert {t["region"] for t in by_shard[name]} == {region}

    # two regions: the merged region is a weighted mean that keeps co2 = energy x PUE x intensity
    region = merged["region"]
    assert region["code"] is None and region["source"] == "merged"
    fr, de = shards[0]["region"]["intensity_g_per_kwh"], shards[1]["region"]["intensity_g_per_kwh"]
    assert fr < region["intensity_g_per_kwh"] < de
    assert "a (FR" in region["note"] and "b (DE" in region["note"] and "c (FR" in region["note"]
    assert session["energy_j"] / 3.6e6 * region["pue"] * region["intensity_g_per_kwh"] == pytest.approx(
        session["co2_g"], rel=1e-9
    )
    # per-test CO2e stays at each test's own region and adds up to the tests' share of the total
    for test in merged["tests"]:
        own = next(s for (n, _, _), s in zip(SHARDS, shards, strict=True) if n == test["shard"])["region"]
        assert test["co2_g"] == pytest.approx(test["energy_j"] / 3.6e6 * own["pue"] * own["intensity_g_per_kwh"])
    assert math.fsum(t["co2_g"] for t in merged["tests"]) <= session["co2_g"]

    # the duplicate test id is kept twice, flagged on both, and said in warnings
    small = [t for t in merged["tests"] if t["nodeid"] == "test_alpha.py::test_small"]
    assert [t["shard"] for t in small] == ["a", "c"] and all(t.get("duplicate") is True for t in small)
    assert sum(1 for t in merged["tests"] if t.get("duplicate")) == 2
    assert any("test_alpha.py::test_small (shards a, c)" in w for w in merged["warnings"])
    assert "test_alpha.py::test_small" in err

    # shards are listed with their run ids, and every shard's probes are kept
    assert [s["name"] for s in merged["run"]["shards"]] == ["a", "b", "c"]
    assert [s["id"] for s in merged["run"]["shards"]] == [s["run"]["id"] for s in shards]
    assert merged["run"]["id"] not in {s["run"]["id"] for s in shards}
    assert [p["shard"] for p in merged["machine"]["probes"]] == ["a", "b", "c"]
    assert session["wall_span_s"] >= 0


def test_merged_budget_and_rendering(
    carbon_pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    paths = [str(p) for p in _run_shards(carbon_pytester)]
    shards = [load_report(Path(p)) for p in paths]
    total_j = sum(s["session"]["energy_j"] for s in shards)
    total_g = sum(s["session"]["co2_g"] for s in shards)
    out_path = str(tmp_path / "all.json")

    code, out, _ = _merge_cli(capsys, *paths, "-o", out_path, "--budget", f"{total_j * 0.5:.6g} J")
    assert code == 1
    assert "session carbon budget exceeded" in out and "sum of 3 shard(s)" in out
    merged = load_report(Path(out_path))
    _validate(merged)
    assert merged["budget"]["failed"] is True and merged["budget"]["session"]["measured_si"] == pytest.approx(total_j)

    code, out, _ = _merge_cli(capsys, *paths, "-o", out_path, "--budget", f"{total_j * 2:.6g} J")
    assert code == 0 and "session carbon budget met" in out

    code, out, _ = _merge_cli(capsys, *paths, "-o", out_path, "--budget", f"{total_g * 1e3 * 0.5:.6g} mg")
    assert code == 1 and "CO2e" in out and "FR, DE" in out
    code, out, _ = _merge_cli(capsys, *paths, "-o", out_path, "--budget", f"{total_g * 1e3 * 2:.6g} mg")
    assert code == 0

    # the merged report renders with `pytest-carbon report`
    code = main(["report", out_path, "--markdown", "-", "--junit", str(tmp_path / "j.xml")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Tests**: 6" in out and "merged shards: FR, DE" in out
    # the duplicate test id is shown, and merged averages are rounded for display
    assert any(line.startswith("- **Warning**") and "ran in more than one shard" in line for line in out.splitlines())
    assert "g/kWh on average" in out
    cases = ElementTree.parse(tmp_path / "j.xml").getroot().iter("testcase")
    names = sorted(c.get("name", "") for c in cases if c.get("classname") != "pytest-carbon")  # that one: the budget
    assert len(names) == 6 and names.count("test_small") == 2


def test_bad_inputs_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_report()), encoding="utf-8")
    not_json = tmp_path / "broken.json"
    not_json.write_text("{ half a file", encoding="utf-8")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}), encoding="utf-8")
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**make_report(), "schema_version": 2}), encoding="utf-8")
    no_session = tmp_path / "partial.json"
    partial = make_report()
    del partial["session"]["co2_g"]
    no_session.write_text(json.dumps(partial), encoding="utf-8")
    out = str(tmp_path / "all.json")
    cases = [
        ([str(good), str(not_json)], "is not JSON"),
        ([str(good), str(other)], "not a pytest-carbon report"),
        ([str(good), str(future)], "schema version 2"),
        ([str(good), str(tmp_path / "absent.json")], "cannot read"),
        ([str(good), str(no_session)], "session.co2_g"),
    ]
    for files, message in cases:
        code, _, err = _merge_cli(capsys, *files, "-o", out)
        assert code == 2, files
        assert message in err and "Traceback" not in err
        assert err.startswith("pytest-carbon merge: ")
    assert not Path(out).exists()
    code, _, err = _merge_cli(capsys, str(good), "-o", out, "--budget", "5 parsecs")
    assert code == 2 and "--budget" in err and "5 parsecs" in err
    code, _, err = _merge_cli(capsys, str(good), "-o", out, "--name", "x", "--name", "y")
    assert code == 2 and "one name per report" in err
    code, _, err = _merge_cli(capsys, str(good))
    assert code == 2 and "-o" in err


def test_region_mixing_rule_on_hand_built_reports() -> None:
    fr = make_report([("t.py::a", 3.0), ("t.py::b", 1.0)], region=FR, remainder_j=1.0, run_id="1" * 32)
    ie = make_report([("t.py::c", 4.0)], region=AWS_IE, remainder_j=2.0, run_id="2" * 32)
    merged = merge_reports([fr, ie], ["paris", "dublin"])
    _validate(merged)
    region = merged["region"]
    e_fr, e_ie = 5.0, 6.0
    facility_fr, facility_ie = e_fr * 1.0, e_ie * 1.15
    assert region["pue"] == pytest.approx((facility_fr + facility_ie) / (e_fr + e_ie))
    assert region["intensity_g_per_kwh"] == pytest.approx(
        (facility_fr * 41.44 + facility_ie * 278.0) / (facility_fr + facility_ie)
    )
    assert (region["code"], region["source"], region["table"]) == (None, "merged", None)
    assert region["known"] is True and region["live"] is False
    assert "paris (FR, 41.44 g/kWh, PUE 1.0)" in region["note"]
    assert "dublin (aws:eu-west-1, 278.0 g/kWh, PUE 1.15)" in region["note"]
    expected_g = e_fr * factor(FR) + e_ie * factor(AWS_IE)
    session = merged["session"]
    assert session["co2_g"] == pytest.approx(expected_g, rel=1e-12)
    assert session["energy_j"] / 3.6e6 * region["pue"] * region["intensity_g_per_kwh"] == pytest.approx(
        expected_g, rel=1e-12
    )
    assert [t["region"] for t in merged["tests"]] == ["FR", "FR", "aws:eu-west-1"]
    assert merged["warnings"] == [] and not any("duplicate" in t for t in merged["tests"])

    # one region everywhere: the shards' own region is kept as it is
    same = merge_reports([fr, copy.deepcopy(fr) | {"run": {**fr["run"], "id": "3" * 32}}], ["x", "y"])
    assert same["region"] == FR
    assert same["session"]["co2_g"] == pytest.approx(2 * fr["session"]["co2_g"])

    # an unknown region in one shard makes the merged one unknown, and no energy at all still gives a figure
    unknown = {**FR, "code": None, "known": False, "intensity_g_per_kwh": 473.0, "source": "unknown"}
    empty = make_report([], region=unknown, remainder_j=0.0, run_id="4" * 32)
    mixed = merge_reports([fr, empty], ["fr", "nowhere"])
    assert mixed["region"]["known"] is False
    assert mixed["region"]["intensity_g_per_kwh"] == pytest.approx(41.44)  # the empty shard weighs nothing
    zero = merge_reports([empty, make_report([], remainder_j=0.0)], ["e1", "e2"])
    assert zero["region"]["intensity_g_per_kwh"] == pytest.approx((473.0 + 41.44) / 2)


def test_merge_reports_keeps_what_the_shards_say() -> None:
    a = make_report([("t.py::a", 1.0)], run_id="a" * 32)
    b = make_report([("t.py::a", 2.0)], run_id="b" * 32)
    b["complete"] = False
    b["missing"] = ["probe rapl failed during the session"]
    b["run"]["started_at"], b["run"]["finished_at"] = "2026-11-29T02:59:00Z", "2026-11-29T03:00:01Z"
    b["run"]["exit_status"] = 1
    b["machine"]["hostname"] = "other"
    del b["session"]["machine_energy_j"]
    merged = merge_reports([a, b], ["a", "b"])
    _validate(merged)
    assert merged["complete"] is False
    assert "shard b was cut short: its figures cover only the tests it finished" in merged["missing"]
    assert "shard b: probe rapl failed during the session" in merged["missing"]
    assert any("machine_energy_j is left out" in m for m in merged["missing"])
    assert "machine_energy_j" not in merged["session"]
    assert merged["run"]["started_at"] == "2026-11-29T02:59:00Z"
    assert merged["run"]["finished_at"] == "2026-11-29T03:00:02Z"
    assert merged["session"]["wall_span_s"] == 62.0 and merged["session"]["duration_s"] == 4.0
    assert merged["run"]["exit_status"] == 1
    assert merged["machine"]["hostname"] is None and merged["machine"]["threads"] == 2
    assert [t["energy_j"] for t in merged["tests"]] == [1.0, 2.0]
    assert all(t["duplicate"] is True for t in merged["tests"])
    assert len(merged["warnings"]) == 1 and "t.py::a (shards a, b)" in merged["warnings"][0]

    merged["tests"][0]["components_j"]["cpu"] = -1.0  # the merge copies: the shards are left as they were
    assert a["tests"][0]["components_j"]["cpu"] == pytest.approx(0.9)

    again = merge_reports([a, a], ["first", "second"])
    assert any("same run id" in w and "counted 2 times" in w for w in again["warnings"])

    for reports, names, message in [
        ([], [], "nothing to merge"),
        ([a], ["x", "y"], "1 report(s) but 2 shard name(s)"),
        ([a, b], ["x", "x"], "repeated: x"),
        ([{**a, "tests": [{"nodeid": "t.py::q"}]}], ["x"], "tests[0] (t.py::q) has no energy_j"),
        ([{**a, "run": {**a["run"], "started_at": "yesterday"}}], ["x"], "run.started_at is 'yesterday'"),
    ]:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            merge_reports(reports, names)


def test_shard_names_come_from_file_names() -> None:
    assert shard_names(["ci/linux.json", "ci/mac.json"]) == ["linux", "mac"]
    assert shard_names(["a/carbon.json", "b/carbon.json", "c/carbon.json"]) == ["carbon", "carbon-2", "carbon-3"]


def test_mixed_region_totals_keep_the_identity_for_many_shards() -> None:
    """Random-looking but fixed shards: the weighted mean never breaks co2 = energy x PUE x intensity."""
    regions = [FR, AWS_IE, {**FR, "code": "DE", "intensity_g_per_kwh": 329.65}, {**AWS_IE, "pue": 1.4}]
    reports = [
        make_report([(f"t{i}.py::x", 0.1 + 7.3 * i)], region=r, remainder_j=0.01 * i, run_id=f"{i:032x}")
        for i, r in enumerate(regions)
    ]
    region = merged_region(
        [r["region"] for r in reports], [r["session"]["energy_j"] for r in reports], ["0", "1", "2", "3"]
    )
    energy_j = sum(r["session"]["energy_j"] for r in reports)
    co2_g = sum(r["session"]["co2_g"] for r in reports)
    assert energy_j / 3.6e6 * region["pue"] * region["intensity_g_per_kwh"] == pytest.approx(co2_g, rel=1e-12)
    assert 1.0 <= region["pue"] <= 1.4


def test_a_merged_report_merges_again() -> None:
    fr = make_report([("t.py::a", 1.0)], region=FR, run_id="1" * 32)
    ie = make_report([("t.py::b", 2.0)], region=AWS_IE, run_id="2" * 32)
    de = make_report([("t.py::c", 3.0)], region={**FR, "code": "DE", "intensity_g_per_kwh": 329.65}, run_id="3" * 32)
    inner = merge_reports([fr, ie], ["paris", "dublin"])
    outer = merge_reports([inner, de], ["europe", "berlin"])
    _validate(outer)
    assert [(t["shard"], t["region"]) for t in outer["tests"]] == [
        ("europe/paris", "FR"),
        ("europe/dublin", "aws:eu-west-1"),
        ("berlin", "DE"),
    ]
    flat = merge_reports([fr, ie, de], ["paris", "dublin", "berlin"])
    for key in ("energy_j", "co2_g", "tests_energy_j", "unattributed_energy_j"):
        assert outer["session"][key] == pytest.approx(flat["session"][key], rel=1e-12)
    region = outer["region"]
    assert outer["session"]["energy_j"] / 3.6e6 * region["pue"] * region["intensity_g_per_kwh"] == pytest.approx(
        flat["session"]["co2_g"], rel=1e-12
    )
