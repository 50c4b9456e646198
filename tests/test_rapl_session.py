"""Ground truth by simulation: a writer thread advances a fake powercap tree at a known power.

The inner session meters with the RAPL probe on that tree. Its session energy covers the window
from the meter's first sample to its last (``session.duration_s``), so the energy written over
that window is the known power times that duration; the counters wrap during the session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from powercap import Writer, build_tree

PACKAGE_W = 20.0
DRAM_W = 3.0
MAX_RANGE_UJ = 6_000_000  # 6 J: the package counter wraps every 0.3 s


def test_session_energy_matches_the_energy_written(pytester: pytest.Pytester, tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True, core=True, max_range_uj=MAX_RANGE_UJ)
    package = root / "intel-rapl:0"
    dram = package / "intel-rapl:0:1"
    pytester.makepyfile(
        test_work="""
        import time

        def test_busy():
            end = time.perf_counter() + 0.4
            n = 0
            while time.perf_counter() < end:
                n += 1

        def test_sleepy():
            time.sleep(0.4)

        def test_quick():
            assert sum(range(1000)) == 499500
        """
    )
    report_path = tmp_path / "carbon.json"
    writer = Writer({package: PACKAGE_W, dram: DRAM_W}, MAX_RANGE_UJ, period_s=0.002)
    writer.start()
    try:
        result = pytester.runpytest_subprocess(
            "--carbon",
            "--carbon-probe=rapl",
            f"--carbon-rapl-root={root}",
            f"--carbon-json={report_path}",
            "--carbon-scope=machine",
            "--carbon-period=0.1",
            "-p",
            "no:cacheprovider",
        )
    finally:
        writer.stop()
    result.assert_outcomes(passed=3)
    assert writer.wraps >= 2  # at least one wrap fell inside the metered window

    report = json.loads(report_path.read_text())
    probes = report["machine"]["probes"]
    assert [p["name"] for p in probes] == ["rapl"]
    assert probes[0]["measured"] is True
    session = report["session"]
    window_s = session["duration_s"]
    assert window_s > 0.8  # both 0.4 s tests lie inside it
    expected_cpu_j = PACKAGE_W * window_s
    expected_ram_j = DRAM_W * window_s
    assert session["components_j"]["cpu"] == pytest.approx(expected_cpu_j, rel=0.02)
    assert session["components_j"]["ram"] == pytest.approx(expected_ram_j, rel=0.02)
    assert session["energy_j"] == pytest.approx(expected_cpu_j + expected_ram_j, rel=0.02)
    assert session["machine_energy_j"] == pytest.approx(session["energy_j"], rel=1e-9)

    tests_j = sum(t["energy_j"] for t in report["tests"])
    assert tests_j == pytest.approx(session["tests_energy_j"], rel=1e-9)
    assert session["tests_energy_j"] + session["unattributed_energy_j"] == pytest.approx(session["energy_j"], rel=1e-9)
    assert 0 <= session["unattributed_energy_j"] < session["energy_j"]
    by_name = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    # each 0.4 s test drew about 0.4 s of the machine's constant 23 W
    for name in ("test_busy", "test_sleepy"):
        assert by_name[name]["energy_j"] == pytest.approx((PACKAGE_W + DRAM_W) * by_name[name]["duration_s"], rel=0.25)
    assert by_name["test_quick"]["energy_j"] < by_name["test_sleepy"]["energy_j"] / 10
    domains = probes[0]["inputs"]["domains"]
    assert [d["name"] for d in domains] == ["package-0", "package-0/dram"]
    assert all(d["max_energy_range_uj"] == MAX_RANGE_UJ for d in domains)
