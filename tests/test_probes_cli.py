"""`pytest-carbon probes`: what this machine can measure, on fake powercap trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from powercap import build_tree

from pytest_carbon.cli import main


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["probes", "--json", *args]) == 0
    found: dict[str, object] = json.loads(capsys.readouterr().out)
    return found


def test_readable_tree_is_measured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = build_tree(tmp_path / "pc", packages=2, dram=True, mmio=True)
    found = _json(capsys, "--rapl-root", str(root))
    rapl = found["rapl"]
    assert isinstance(rapl, dict)
    assert rapl["status"] == "measured"
    assert rapl["components"] == ["cpu", "ram"]
    assert [d["zone"] for d in rapl["domains"]] == ["intel-rapl:0", "intel-rapl:0:1", "intel-rapl:1", "intel-rapl:1:1"]
    assert all(d["readable"] for d in rapl["domains"])
    assert any("intel-rapl-mmio:0" in n for n in rapl["notes"])
    auto = found["auto"]
    assert isinstance(auto, dict)
    assert auto["probes"][0] == {"name": "rapl", "components": ["cpu", "ram"], "measured": True}


def test_absent_tree_says_why_and_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probes", "--rapl-root", str(tmp_path / "nothing")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["component", "source", "state"]
    assert any(line.split()[-1] == "absent" and "RAPL" in line for line in lines[2:5])
    assert f"no RAPL package or DRAM zone under {tmp_path / 'nothing'}" in out
    assert "fix: check the path" in out
    assert "pytest --carbon would use:" in out


def test_unreadable_counter_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    counter = root / "intel-rapl:0" / "energy_uj"
    counter.unlink()
    counter.mkdir()
    found = _json(capsys, "--rapl-root", str(root))
    rapl = found["rapl"]
    assert isinstance(rapl, dict)
    assert rapl["status"] == "unreadable"
    assert rapl["components"] == []
    assert rapl["domains"][0]["readable"] is False
    assert rapl["domains"][0]["error"]
    auto = found["auto"]
    assert isinstance(auto, dict)
    assert any(str(counter) in p for p in auto["problems"])


def test_root_from_the_environment_and_the_console_script(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    env = {**os.environ, "PYTEST_CARBON_RAPL_ROOT": str(root)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_carbon.cli", "probes", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["rapl"]["root"] == str(root)
    assert found["rapl"]["status"] == "measured"
    assert found["rapl"]["components"] == ["cpu"]
    assert "no DRAM domain" in found["rapl"]["why"]


def test_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probes", "--frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err
