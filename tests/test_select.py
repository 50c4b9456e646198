"""Probe selection: counters where readable, the power model for the rest, problems said once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from powercap import build_tree
from test_nvml import UUIDS, FakeGpu, FakeNvml

from pytest_carbon.probes.base import MachineLoad
from pytest_carbon.probes.select import Selection, select_probes

LOAD = MachineLoad(duration_s=0.5, cpu_busy_s=0.5, cpu_load=0.5, threads=2, ram_used_gb=1.0)


def _needs_model() -> None:
    pytest.importorskip("pytest_carbon.probes.model", reason="the power model is not in this tree yet")


@pytest.fixture
def no_driver(tmp_path: Path) -> str:
    """A /proc without an NVIDIA driver (and no stand-in module)."""
    proc = tmp_path / "proc"
    proc.mkdir()
    return str(proc)


@pytest.fixture
def closing() -> Iterator[list[Selection]]:
    made: list[Selection] = []
    yield made
    for selection in made:
        for probe in selection.probes:
            probe.close()


def _names(selection: Selection) -> list[tuple[str, tuple[str, ...]]]:
    return [(p.name, tuple(p.components)) for p in selection.probes]


def _skip_if_real_gpu(no_driver: str) -> None:
    from pytest_carbon.probes.nvml import nvml_possible

    if nvml_possible(no_driver):
        pytest.skip("an NVIDIA library is installed on this machine")


def test_none_selects_nothing(tmp_path: Path) -> None:
    assert select_probes("none", {}) == Selection([], [])


def test_unknown_choice_is_a_problem() -> None:
    selection = select_probes("geiger", {})
    assert selection.probes == []
    assert "expected one of: auto, model, rapl, nvml, none" in selection.problems[0]


def test_auto_with_package_and_dram_needs_no_model(tmp_path: Path, no_driver: str, closing: list[Selection]) -> None:
    _skip_if_real_gpu(no_driver)
    root = build_tree(tmp_path / "pc", packages=2, dram=True)
    selection = select_probes("auto", {}, rapl_root=str(root), proc_root=no_driver)
    closing.append(selection)
    assert _names(selection) == [("rapl", ("cpu", "ram"))]
    assert selection.problems == []
    assert selection.components == ("cpu", "ram")
    assert {r.component for r in selection.probes[0].read(LOAD)} == {"cpu", "ram"}


def test_auto_without_dram_adds_the_model_for_memory(tmp_path: Path, no_driver: str, closing: list[Selection]) -> None:
    _needs_model()
    _skip_if_real_gpu(no_driver)
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    selection = select_probes("auto", {}, rapl_root=str(root), proc_root=no_driver)
    closing.append(selection)
    assert _names(selection) == [("rapl", ("cpu",)), ("model", ("ram",))]
    assert selection.problems == []
    model = selection.probes[1]
    assert model.measured is False
    assert {r.component for r in model.read(LOAD)} == {"ram"}


def test_auto_without_powercap_is_the_model_quietly(tmp_path: Path, no_driver: str, closing: list[Selection]) -> None:
    _needs_model()
    _skip_if_real_gpu(no_driver)
    selection = select_probes("auto", {}, rapl_root=str(tmp_path / "none"), proc_root=no_driver)
    closing.append(selection)
    assert _names(selection) == [("model", ("cpu", "ram"))]
    assert selection.problems == []  # a VM without counters is normal, not a problem


def test_rapl_required_but_absent_is_said_then_falls_back(
    tmp_path: Path, no_driver: str, closing: list[Selection]
) -> None:
    _needs_model()
    selection = select_probes("rapl", {}, rapl_root=str(tmp_path / "none"), proc_root=no_driver)
    closing.append(selection)
    assert [name for name, _ in _names(selection)] == ["model"]
    assert len(selection.problems) == 1
    assert "no package or DRAM energy counters" in selection.problems[0]
    assert str(tmp_path / "none") in selection.problems[0]


def test_unreadable_counter_is_a_problem_even_in_auto(tmp_path: Path, no_driver: str, closing: list[Selection]) -> None:
    _needs_model()
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    counter = root / "intel-rapl:0" / "energy_uj"
    counter.unlink()
    counter.mkdir()  # cannot be read, even by root
    selection = select_probes("auto", {}, rapl_root=str(root), proc_root=no_driver)
    closing.append(selection)
    assert [name for name, _ in _names(selection)] == ["model"]
    assert selection.problems and str(counter) in selection.problems[0]


def test_psys_option_reaches_the_probe(tmp_path: Path, no_driver: str, closing: list[Selection]) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True, psys=True)
    selection = select_probes("rapl", {}, rapl_root=str(root), rapl_psys=True, proc_root=no_driver)
    closing.append(selection)
    rapl = selection.probes[0]
    assert rapl.describe()["inputs"]["domains"][0]["name"] == "psys"
    assert selection.components[:2] == ("cpu", "ram")


def test_gpu_is_measured_with_nvml(tmp_path: Path, closing: list[Selection]) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True)
    nvml = FakeNvml([FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1])])
    selection = select_probes("auto", {"CUDA_VISIBLE_DEVICES": "1"}, rapl_root=str(root), nvml_module=nvml)
    closing.append(selection)
    assert _names(selection) == [("rapl", ("cpu", "ram")), ("nvml", ("gpu",))]
    assert selection.components == ("cpu", "ram", "gpu")
    assert selection.problems == []
    assert [g.index for g in selection.probes[1].gpus] == [1]  # type: ignore[attr-defined]


def test_nvml_failure_is_a_problem(tmp_path: Path, closing: list[Selection]) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True)
    nvml = FakeNvml([FakeGpu(UUIDS[0])], init_error=9)
    selection = select_probes("auto", {}, rapl_root=str(root), nvml_module=nvml)
    closing.append(selection)
    assert [name for name, _ in _names(selection)] == ["rapl"]
    assert len(selection.problems) == 1
    assert "Driver Not Loaded" in selection.problems[0]
    assert "GPU energy is not measured" in selection.problems[0]


def test_nvml_required_without_a_driver(tmp_path: Path, no_driver: str, closing: list[Selection]) -> None:
    _skip_if_real_gpu(no_driver)
    root = build_tree(tmp_path / "pc", packages=1, dram=True)
    selection = select_probes("nvml", {}, rapl_root=str(root), proc_root=no_driver)
    closing.append(selection)
    assert [name for name, _ in _names(selection)] == ["rapl"]
    assert "no NVIDIA driver" in selection.problems[0]


def test_model_alone(closing: list[Selection]) -> None:
    _needs_model()
    selection = select_probes("model", {})
    closing.append(selection)
    assert _names(selection) == [("model", ("cpu", "ram"))]
    assert selection.problems == []


def test_permission_denied_gives_the_fix_once(tmp_path: Path) -> None:
    _needs_model()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    root = build_tree(tmp_path / "pc", packages=1, dram=True)
    counter = root / "intel-rapl:0" / "energy_uj"
    counter.chmod(0)
    drop = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    check = subprocess.run([*drop, "cat", str(counter)], capture_output=True, text=True, timeout=30)
    if check.returncode == 0:
        pytest.skip("cannot drop the file-permission override here")
    script = textwrap.dedent(
        f"""
        from pytest_carbon.probes.select import select_probes
        s = select_probes("auto", {{}}, rapl_root={str(root)!r}, proc_root={str(tmp_path)!r})
        print([p.name for p in s.probes])
        for line in s.problems:
            print("PROBLEM", line)
        """
    )
    proc = subprocess.run([*drop, sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "['model']"
    problems = [line for line in lines if line.startswith("PROBLEM")]
    assert len(problems) == 1
    assert f"{counter}: permission denied" in problems[0]
    assert "udev" in problems[0] and "power model" in problems[0]


def test_default_powercap_root_is_rapls() -> None:
    from pytest_carbon.probes import rapl, select

    assert select.DEFAULT_RAPL_ROOT == rapl.DEFAULT_ROOT


def test_auto_does_not_import_counters_that_are_not_there(tmp_path: Path, no_driver: str) -> None:
    _needs_model()
    _skip_if_real_gpu(no_driver)
    empty = tmp_path / "powercap"
    empty.mkdir()
    (empty / "dtpm").mkdir()  # a powercap tree with no RAPL zone
    script = textwrap.dedent(
        f"""
        import sys
        from pytest_carbon.probes.select import select_probes
        for root in ({str(empty)!r}, {str(tmp_path / "none")!r}):
            s = select_probes("auto", {{}}, rapl_root=root, proc_root={no_driver!r})
            print([p.name for p in s.probes], s.problems)
        print(sorted(m for m in sys.modules if m in ("pytest_carbon.probes.rapl", "pytest_carbon.probes.nvml")))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['model'] []", "['model'] []", "[]"]
