"""tools/gpu_check.py: end to end where there is no GPU, with a pynvml stand-in, and its checks on figures."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_nvml import write_standin

from pytest_carbon.probes.nvml import nvml_possible

TOOL = Path(__file__).resolve().parent.parent / "tools" / "gpu_check.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(site: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return subprocess.run(
        [sys.executable, "-W", "error", str(TOOL), "--out", str(out), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=out.parent,
        timeout=300,
        check=False,
    )


def _findings(out: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((out / "gpu_check.json").read_text(encoding="utf-8"))
    return found


def test_no_gpu_is_said_cleanly(tmp_path: Path) -> None:
    """No driver here: the stand-in on the path does not count as a GPU; exit 0, the files written."""
    if nvml_possible():
        pytest.skip("this machine has an NVIDIA driver")
    out = tmp_path / "out"
    done = _run(write_standin(tmp_path / "site"), out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    first = "gpu_check: no GPU: no NVIDIA driver on this machine; nothing to check"
    assert done.stdout.splitlines()[0] == first
    found = _findings(out)
    assert found["gpu"] is False and found["checks"] == []
    assert found["probes"]["nvml"]["status"] == "measured"  # the probes command tries the stand-in
    assert (out / "gpu_check.txt").read_text(encoding="utf-8").splitlines()[0] == first


def _statuses(found: dict[str, Any]) -> dict[str, str]:
    return {c["name"].split(" (")[0]: c["status"] for c in found["checks"]}


def test_whole_check_runs_on_a_standin(tmp_path: Path) -> None:
    """Past the driver check, every step runs against the stand-in's 75 W GPU."""
    out = tmp_path / "out"
    done = _run(write_standin(tmp_path / "site"), out, "--no-driver-check", "--seconds", "0.6")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    found = _findings(out)
    assert found["gpu"] is True and found["summary"] == "every check passed"
    assert found["probes"]["nvml"]["driver_version"] == "550.54.15"
    assert [g["name"] for g in found["gpus"]] == ["Stand-in H100"]
    assert _statuses(found) == {
        "counter vs integrated power": "pass",
        "GPUs read": "pass",
        "attribution": "pass",
        "idle vs busy": "skip",  # no way to load a GPU here
        "CUDA_VISIBLE_DEVICES empty": "pass",
        "CUDA_VISIBLE_DEVICES one GPU by UUID": "pass",
        "busy suite on one GPU of several": "skip",
    }
    (attributed,) = [c for c in found["checks"] if c["name"].startswith("attribution")]
    waits = attributed["figures"]["tests"]["test_gpu.py::test_idle_before"]
    assert waits["report_j"] == pytest.approx(75 * 0.6, rel=0.3)  # 75 W for 0.6 s
    text = (out / "gpu_check.txt").read_text(encoding="utf-8")
    assert "[pass] counter vs integrated power" in text and "[skip] idle vs busy" in text


def test_power_that_disagrees_with_the_counter_fails(tmp_path: Path) -> None:
    site = write_standin(tmp_path / "site")
    standin = site / "pynvml.py"
    standin.write_text(standin.read_text(encoding="utf-8").replace("return 75_000", "return 50_000"), encoding="utf-8")
    out = tmp_path / "out"
    done = _run(site, out, "--no-driver-check", "--seconds", "0.6")
    assert done.returncode == 1, done.stdout + done.stderr
    found = _findings(out)
    assert _statuses(found)["counter vs integrated power"] == "fail"
    assert found["summary"].startswith("1 check(s) failed: counter vs integrated power")


def test_figures_and_bounds(tool: ModuleType) -> None:
    assert tool.trapezoid_j([(0.0, 50_000.0), (1.0, 150_000.0), (3.0, 150_000.0)]) == pytest.approx(400.0)
    samples = [(0.0, 1_000), (1.0, 2_000), (2.0, 4_000)]
    assert tool.counter_between_j(samples, 0.5, 1.5) == pytest.approx(1.5)
    assert tool.counter_between_j(samples, -1.0, 9.0) == pytest.approx(3.0)
    assert tool.counter_vs_power("g", 100.0, 109.0, 5.0)["status"] == "pass"
    assert tool.counter_vs_power("g", 100.0, 111.0, 5.0)["status"] == "fail"
    assert tool.counter_vs_power("g", 5.0, 6.9, 1.0)["status"] == "pass"  # within 2 J


def _report(tests: dict[str, tuple[float, float]], session_j: float) -> dict[str, Any]:
    return {
        "tests": [
            {"nodeid": f"t.py::{n}", "outcome": "passed", "duration_s": d, "components_j": {"gpu": j}}
            for n, (d, j) in tests.items()
        ],
        "session": {"components_j": {"gpu": session_j}},
    }


def test_attribution_check(tool: ModuleType) -> None:
    spans = {"t.py::a": (0.0, 3.0), "t.py::b": (3.0, 6.0)}
    report = _report({"a": (3.0, 300.0), "b": (3.0, 900.0)}, 1250.0)
    assert tool.attribution("x", report, spans, {"t.py::a": 310.0, "t.py::b": 880.0})["status"] == "pass"
    off = tool.attribution("x", report, spans, {"t.py::a": 310.0, "t.py::b": 600.0})
    assert off["status"] == "fail" and "t.py::b: report 900.0 J, counter 600.0 J" in off["detail"]
    more = tool.attribution(
        "x", _report({"a": (3.0, 300.0), "b": (3.0, 900.0)}, 1000.0), spans, {"t.py::a": 300.0, "t.py::b": 900.0}
    )
    assert more["status"] == "fail" and "more than the session's" in more["detail"]
    gone = tool.attribution("x", _report({"a": (3.0, 300.0)}, 400.0), spans, {"t.py::a": 300.0, "t.py::b": 1.0})
    assert gone["status"] == "fail" and "missing from the report" in gone["detail"]


def test_idle_busy_check(tool: ModuleType) -> None:
    idle = ["idle1", "idle2"]
    busy = _report({"idle1": (3.0, 300.0), "busy": (3.0, 1200.0), "idle2": (3.0, 310.0)}, 1900.0)
    assert tool.idle_busy(busy, "busy", idle)["status"] == "pass"
    flat = _report({"idle1": (3.0, 300.0), "busy": (3.0, 330.0), "idle2": (3.0, 300.0)}, 1000.0)
    assert tool.idle_busy(flat, "busy", idle)["status"] == "fail"  # 110 W against 100 W: not 1.2 x
    skipped = _report({"idle1": (3.0, 300.0), "idle2": (3.0, 300.0)}, 700.0)
    assert tool.idle_busy(skipped, "busy", idle)["status"] == "skip"
