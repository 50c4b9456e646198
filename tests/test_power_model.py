"""The power model: its error on the calibration, recomputed from the shipped coefficients; VMs; the probe."""

from __future__ import annotations

import csv
import json
import os
import statistics
from importlib import resources
from pathlib import Path

import pytest

from pytest_carbon.probes.base import MachineLoad, ProbeError
from pytest_carbon.probes.cpuinfo import MachineSpec
from pytest_carbon.probes.model import ModelInputError, ModelProbe, estimate

SOURCES = Path(__file__).resolve().parents[2] / "shared" / "sources"
CALIBRATION = SOURCES / "specpower_calibration_pre2019.csv"


def _calibration_rows() -> list[dict[str, str]]:
    if not CALIBRATION.is_file():
        if os.environ.get("PYTEST_CARBON_REQUIRE_SOURCES") == "1":
            pytest.fail(f"{CALIBRATION} is missing and PYTEST_CARBON_REQUIRE_SOURCES=1")
        pytest.skip(f"calibration data not found at {CALIBRATION} (the raw sources live next to the repository)")
    with CALIBRATION.open(newline="", encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["tdp_w_per_chip"]]


def _shipped() -> dict[str, object]:
    doc: dict[str, object] = json.loads(
        resources.files("pytest_carbon.data").joinpath("power_model.json").read_text(encoding="utf-8")
    )
    return doc


def test_median_error_on_the_calibration_is_at_most_15_percent() -> None:
    errors = []
    for row in _calibration_rows():
        for step in range(11):
            measured_w = float(row[f"p{step * 10}"])
            result = estimate(
                None,
                int(row["threads"]),
                int(row["sockets"]),
                float(row["ram_gb"]),
                step / 10,
                float(row["tdp_w_per_chip"]),
            )
            errors.append(abs(result.total_w - measured_w) / measured_w * 100)
    median = statistics.median(errors)
    assert median <= 15.0
    shipped = _shipped()["errors"]["model"]  # type: ignore[index]
    assert median == pytest.approx(shipped["median_ape_pct"], abs=0.05)
    assert len(errors) == shipped["points"]


def test_codecarbon_figure_recomputed_on_the_same_rows() -> None:
    errors = []
    for row in _calibration_rows():
        tdp_w = float(row["tdp_w_per_chip"]) * int(row["sockets"])
        dimms = -(-float(row["ram_gb"]) // 8)
        for step in range(11):
            predicted = tdp_w * (0.1 + 0.9 * (step / 10) ** 3) + 5 * dimms
            measured = float(row[f"p{step * 10}"])
            errors.append(abs(predicted - measured) / measured * 100)
    shipped = _shipped()["errors"]["codecarbon"]  # type: ignore[index]
    assert statistics.median(errors) == pytest.approx(shipped["median_ape_pct"], abs=0.05)
    assert statistics.median(errors) > 40  # far worse than the fitted model


def test_temporal_check_is_published() -> None:
    temporal = _shipped()["errors"]["temporal"]  # type: ignore[index]
    assert temporal["model_on_newer"]["rows"] > 50
    assert 0 < temporal["model_on_newer"]["median_ape_pct"] < 25


def test_power_rises_with_load_and_sources_are_said() -> None:
    low = estimate("AMD EPYC 7763 64-Core Processor", 128, 1, 512, 0.0)
    high = estimate("AMD EPYC 7763 64-Core Processor", 128, 1, 512, 1.0)
    assert low.tdp_source == "table" and low.tdp_w_used == 280.0
    assert low.total_w == pytest.approx(low.idle_w)
    assert high.total_w > 3 * low.total_w
    assert high.total_w == pytest.approx(high.cpu_w + high.ram_w)
    assert estimate("Foo 9000", 8).tdp_source == "default"
    assert estimate("Foo 9000", 8, tdp_w=65).tdp_source == "given"


def test_vm_is_a_share_of_its_host_socket() -> None:
    vm = estimate("AMD EPYC 7763 64-Core Processor", 4, 1, 16, 1.0, virtual=True)
    host = estimate("AMD EPYC 7763 64-Core Processor", 4, 1, 16, 1.0)
    assert vm.host_threads == 128 and vm.host_share == pytest.approx(4 / 128)
    assert vm.total_w < host.total_w / 5
    bigger = estimate("AMD EPYC 7763 64-Core Processor", 8, 1, 32, 1.0, virtual=True)
    assert bigger.total_w == pytest.approx(2 * vm.total_w, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threads": 0}, "threads must be 1 or more"),
        ({"threads": -3}, "threads must be 1 or more"),
        ({"threads": 2.5}, "threads must be a whole number"),
        ({"threads": 4, "load": 1.5}, "load must be between 0 and 1"),
        ({"threads": 4, "load": -0.1}, "load must be between 0 and 1"),
        ({"threads": 4, "load": float("nan")}, "load must be a number"),
        ({"threads": 4, "ram_gb": "16"}, "ram_gb must be a number"),
        ({"threads": 4, "tdp_w": 0}, "tdp_w must be a positive number"),
        ({"threads": 4, "sockets": 0}, "sockets must be 1 or more"),
    ],
)
def test_bad_inputs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ModelInputError, match=message):
        estimate("AMD EPYC 7763", **kwargs)  # type: ignore[arg-type]


SPEC = MachineSpec("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "GenuineIntel", 1, 1, 2, 8.0, True, "amazon", "x")


def test_probe_static_and_dynamic() -> None:
    probe = ModelProbe(spec=SPEC)
    probe.start()
    idle = {r.component: r for r in probe.read(MachineLoad(2.0, 0.0, 0.0, 2, 1.0))}
    busy = {r.component: r for r in probe.read(MachineLoad(2.0, 4.0, 1.0, 2, 1.0))}
    assert set(idle) == {"cpu", "ram"}
    assert idle["cpu"].dynamic_j == pytest.approx(0.0, abs=1e-9)
    assert busy["cpu"].static_j == pytest.approx(idle["cpu"].static_j)
    assert busy["cpu"].dynamic_j > busy["cpu"].static_j
    full = estimate(SPEC.cpu_model, 2, 1, 8.0, 1.0, virtual=True)
    assert busy["ram"].static_j == pytest.approx(full.ram_w * 2.0) and busy["ram"].dynamic_j == 0.0
    assert busy["cpu"].energy_j + busy["ram"].energy_j == pytest.approx(full.total_w * 2.0)
    assert all(not r.measured and r.probe == "model" for r in busy.values())
    desc = probe.describe()
    assert desc["inputs"]["tdp_source"] == "table" and desc["inputs"]["virtual"] is True
    assert desc["inputs"]["host_share"] is not None
    assert any("virtual machine" in note for note in desc["notes"])


def test_probe_ram_only_and_bad_components() -> None:
    probe = ModelProbe(components=("ram",), spec=SPEC)
    probe.start()
    assert [r.component for r in probe.read(MachineLoad(1.0, 1.0, 0.5, 2, 1.0))] == ["ram"]
    with pytest.raises(ProbeError, match="only cpu and ram"):
        ModelProbe(components=("gpu",))


def test_unknown_cpu_is_said() -> None:
    spec = MachineSpec("AMD EPYC", "AuthenticAMD", 1, 2, 2, 4.0, False, None, "no hypervisor flag")
    probe = ModelProbe(spec=spec)
    probe.start()
    notes = probe.describe()["notes"]
    assert any("not in the TDP table" in n and "W per thread" in n for n in notes)
