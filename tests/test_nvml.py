"""NVML probe with a stand-in pynvml module handed to it (the module boundary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import load_report

from pytest_carbon.probes._common import NotPresent
from pytest_carbon.probes.base import MachineLoad, ProbeError
from pytest_carbon.probes.nvml import NvmlProbe, nvml_possible, visible_devices


class NVMLError(Exception):
    """Shaped like pynvml's: the return code in ``value``."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {3: "Not Supported", 15: "GPU is lost", 9: "Driver Not Loaded"}.get(self.value, "Unknown Error")


@dataclass
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100"
    energy_mj: int | None = 1_000_000  # None: counter not supported
    power_mw: int | None = 60_000
    fail_with: int | None = None


@dataclass
class FakeNvml:
    """A stand-in for the pynvml module: the same function names, NVML's units."""

    gpus: list[FakeGpu]
    init_error: int | None = None
    calls: list[str] = field(default_factory=list)
    NVML_ERROR_NOT_SUPPORTED: int = 3
    NVMLError: type[Exception] = NVMLError

    def nvmlInit(self) -> None:
        self.calls.append("init")
        if self.init_error is not None:
            raise NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> bytes:
        return handle.uuid.encode()  # older pynvml returns bytes

    def nvmlDeviceGetName(self, handle: FakeGpu) -> str:
        return handle.name

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:
        if handle.fail_with is not None:
            raise NVMLError(handle.fail_with)
        if handle.energy_mj is None:
            raise NVMLError(3)
        return handle.energy_mj

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:
        if handle.fail_with is not None:
            raise NVMLError(handle.fail_with)
        if handle.power_mw is None:
            raise NVMLError(3)
        return handle.power_mw


UUIDS = ["GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", "GPU-1b2c3d4e-0000-1111-2222-333344445555"]


def _load(duration_s: float = 0.5) -> MachineLoad:
    return MachineLoad(duration_s=duration_s, cpu_busy_s=0.1, cpu_load=0.1, threads=2, ram_used_gb=1.0)


def _gpu_j(probe: NvmlProbe, duration_s: float = 0.5) -> tuple[float, float]:
    (reading,) = probe.read(_load(duration_s))
    assert reading.component == "gpu" and reading.measured and reading.probe == "nvml"
    return reading.static_j, reading.dynamic_j


def test_total_energy_counter_in_millijoules() -> None:
    nvml = FakeNvml([FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1], energy_mj=5_000)])
    probe = NvmlProbe(nvml, environ={})
    probe.start()
    assert [g.index for g in probe.gpus] == [0, 1]
    nvml.gpus[0].energy_mj += 30_000  # 30 J over 0.5 s: 60 W
    nvml.gpus[1].energy_mj += 10_000  # 10 J
    static, dynamic = _gpu_j(probe)
    assert static + dynamic == pytest.approx(40.0, abs=1e-9)
    nvml.gpus[0].energy_mj += 100_000  # 200 W now: well above the 60 W floor
    static, dynamic = _gpu_j(probe)
    assert static + dynamic == pytest.approx(100.0, abs=1e-9)
    assert static == pytest.approx(30.0, abs=1e-6)  # the floor of GPU 0; GPU 1 drew nothing
    assert dynamic == pytest.approx(70.0, abs=1e-6)
    probe.close()
    assert nvml.calls == ["init", "shutdown"]
    probe.close()
    assert nvml.calls == ["init", "shutdown"]  # once


def test_not_supported_counter_falls_back_to_integrated_power() -> None:
    gpu = FakeGpu(UUIDS[0], name="Tesla P100", energy_mj=None, power_mw=40_000)
    probe = NvmlProbe(FakeNvml([gpu]), environ={})
    probe.start()
    desc = probe.describe()
    assert desc["inputs"]["gpus"][0]["source"] == "sampled power"
    assert any("integrated" in n for n in desc["notes"])
    gpu.power_mw = 80_000
    static, dynamic = _gpu_j(probe, duration_s=2.0)
    assert static + dynamic == pytest.approx((40 + 80) / 2 * 2.0, abs=1e-6)  # trapezoid: 120 J
    gpu.power_mw = 80_000
    static, dynamic = _gpu_j(probe, duration_s=1.0)
    assert static + dynamic == pytest.approx(80.0, abs=1e-6)
    probe.close()


def test_gpu_with_neither_energy_nor_power_is_left_out() -> None:
    nvml = FakeNvml([FakeGpu(UUIDS[0], energy_mj=None, power_mw=None)])
    with pytest.raises(NotPresent, match="no visible GPU"):
        NvmlProbe(nvml, environ={}).start()
    assert nvml.calls == ["init", "shutdown"]


def test_error_mid_session_is_a_probe_error() -> None:
    nvml = FakeNvml([FakeGpu(UUIDS[0])])
    probe = NvmlProbe(nvml, environ={})
    probe.start()
    _gpu_j(probe)
    nvml.gpus[0].fail_with = 15
    with pytest.raises(ProbeError, match=r"GPU 0 \(NVIDIA H100\) failed: GPU is lost"):
        probe.read(_load())
    probe.close()
    assert nvml.calls[-1] == "shutdown"


def test_init_failure_says_what_to_check() -> None:
    with pytest.raises(ProbeError, match=r"Driver Not Loaded.*nvidia-smi"):
        NvmlProbe(FakeNvml([], init_error=9), environ={}).start()


def test_counter_going_backwards_is_dropped() -> None:
    nvml = FakeNvml([FakeGpu(UUIDS[0], energy_mj=9_000_000)])
    probe = NvmlProbe(nvml, environ={})
    probe.start()
    nvml.gpus[0].energy_mj = 1_000  # driver reloaded
    static, dynamic = _gpu_j(probe)
    assert static == 0.0 and dynamic == 0.0
    nvml.gpus[0].energy_mj += 2_000
    assert sum(_gpu_j(probe)) == pytest.approx(2.0)
    assert any("went backwards 1 time" in n for n in probe.describe()["notes"])
    probe.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, [0, 1, 2]),
        ("", []),
        ("1", [1]),
        ("2,0", [2, 0]),
        ("0,7,1", [0]),  # an invalid entry hides it and everything after it
        ("-1", []),
        ("GPU-1b2c3d4e", [1]),  # a UUID prefix
        ("gpu-8932F937-d72c-4106-c12f-20bd9faed9f6", [0]),
        ("GPU-", []),  # ambiguous prefix
        ("1,1", [1]),
        ("MIG-0a1b2c3d-1111-2222-3333-444455556666", []),
    ],
)
def test_cuda_visible_devices(value: str | None, expected: list[int]) -> None:
    uuids = [*UUIDS, "GPU-ffffffff-0000-1111-2222-333344445555"]
    environ = {} if value is None else {"CUDA_VISIBLE_DEVICES": value}
    assert visible_devices(environ, uuids).indices == expected


def test_probe_reads_only_visible_gpus_by_uuid() -> None:
    nvml = FakeNvml([FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1])])
    probe = NvmlProbe(nvml, environ={"CUDA_VISIBLE_DEVICES": UUIDS[1]})
    probe.start()
    assert [g.uuid for g in probe.gpus] == [UUIDS[1]]
    nvml.gpus[0].energy_mj += 50_000  # not visible: not counted
    nvml.gpus[1].energy_mj += 7_000
    assert sum(_gpu_j(probe)) == pytest.approx(7.0)
    probe.close()


def test_empty_cuda_visible_devices_means_nothing_to_measure() -> None:
    nvml = FakeNvml([FakeGpu(UUIDS[0])])
    with pytest.raises(NotPresent, match="CUDA_VISIBLE_DEVICES is empty"):
        NvmlProbe(nvml, environ={"CUDA_VISIBLE_DEVICES": ""}).start()
    assert nvml.calls == ["init", "shutdown"]


def test_no_driver_means_no_import(tmp_path: Path) -> None:
    assert not nvml_possible(str(tmp_path / "proc"), str(tmp_path / "dev"))
    (tmp_path / "proc" / "driver" / "nvidia").mkdir(parents=True)
    (tmp_path / "proc" / "driver" / "nvidia" / "version").write_text("NVRM version: 550.54\n")
    assert nvml_possible(str(tmp_path / "proc"), str(tmp_path / "dev"))


def test_probe_without_driver_is_not_present(tmp_path: Path) -> None:
    if nvml_possible():
        pytest.skip("this machine has an NVIDIA driver")
    with pytest.raises(NotPresent, match="no NVIDIA driver"):
        NvmlProbe(proc_root=str(tmp_path)).start()


# ---- the bindings: which package, which versions, and no warning escaping the import

#: a stand-in for the pynvml module as a file: one GPU drawing 75 W (counter and power alike),
#: NVML's function names and units, and a deprecation warning of the kind given on its import
STANDIN_PYNVML = """
import time
import json
import os
import subprocess
import sys
import warnings

{warn}

NVML_ERROR_NOT_SUPPORTED = 3
_T0 = time.monotonic()


class NVMLError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


def nvmlInit():
    pass


def nvmlShutdown():
    pass


def nvmlSystemGetDriverVersion():
    return "550.54.15"


def nvmlSystemGetNVMLVersion():
    return "12.550.54.15"


def nvmlSystemGetCudaDriverVersion():
    return 12040


def nvmlDeviceGetCount():
    return 1


def nvmlDeviceGetHandleByIndex(index):
    return index


def nvmlDeviceGetUUID(handle):
    return "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"


def nvmlDeviceGetName(handle):
    return "Stand-in H100"


def nvmlDeviceGetTotalEnergyConsumption(handle):
    return 1_000_000 + int((time.monotonic() - _T0) * 75_000)


def nvmlDeviceGetPowerUsage(handle):
    return 75_000
"""

SHIM_MESSAGE = "The pynvml package is deprecated. Please install nvidia-ml-py instead."

#: the deprecated pynvml package's way of warning: a finder put first on sys.meta_path at start-up
#: (it does so from a .pth file; here from sitecustomize) that warns when a pynvml module is looked for
SHIM_SITECUSTOMIZE = f"""
import importlib.abc
import sys
import json
import os
import subprocess
import sys
import warnings


class Finder(importlib.abc.MetaPathFinder):
    warned = False

    def find_spec(self, name, path=None, target=None):
        if name.startswith("pynvml") and not self.warned:
            self.warned = True
            warnings.warn({SHIM_MESSAGE!r}, FutureWarning, stacklevel=2)
        return None


sys.meta_path.insert(0, Finder())
"""


def write_standin(folder: Path, category: str | None = "FutureWarning", message: str = SHIM_MESSAGE) -> Path:
    """Write the stand-in ``pynvml.py`` into ``folder`` (made if need be); returns the folder.

    On import it warns with ``category`` (None: it does not warn).
    """
    folder.mkdir(parents=True, exist_ok=True)
    warn = f"warnings.warn({message!r}, {category})" if category else ""
    (folder / "pynvml.py").write_text(STANDIN_PYNVML.format(warn=warn), encoding="utf-8")
    return folder


def _dist_info(site: Path, name: str, version: str, files: list[str]) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    record = [*files, f"{info.name}/METADATA,,", f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(f if "," in f else f"{f},," for f in record) + "\n", encoding="utf-8")


@pytest.fixture
def fresh_pynvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test imports its own pynvml; the one it leaves is dropped."""
    import sys

    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    yield
    sys.modules.pop("pynvml", None)


@pytest.mark.parametrize("category", ["FutureWarning", "DeprecationWarning"])
def test_warning_on_import_is_caught_even_when_warnings_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_pynvml: None, category: str
) -> None:
    from pytest_carbon.probes.nvml import import_bindings

    monkeypatch.syspath_prepend(str(write_standin(tmp_path / "site", category)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module, bindings = import_bindings()
        assert module.nvmlDeviceGetCount() == 1
    assert bindings.warnings == [f"{category}: {SHIM_MESSAGE}"]
    assert bindings.package is None and bindings.file == str(tmp_path / "site" / "pynvml.py")
    notes = bindings.notes()
    assert any(f"importing pynvml warned ({category}: The pynvml package is deprecated" in n for n in notes)
    assert any("belongs to no known package" in n for n in notes)


def test_nvidia_bindings_beside_the_shim_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_pynvml: None
) -> None:
    """nvidia-ml-py provides the module; the pynvml 13 shim is installed too and warns, as it does."""
    import sys

    from pytest_carbon.probes.nvml import import_bindings

    site = write_standin(tmp_path / "site", None)
    _dist_info(site, "nvidia-ml-py", "13.615.71", ["pynvml.py,sha256=x,1"])
    _dist_info(site, "pynvml", "13.0.1", ["_pynvml_redirector.py,,", "_pynvml_redirector.pth,,"])
    monkeypatch.syspath_prepend(str(site))
    namespace: dict[str, object] = {}
    exec(SHIM_SITECUSTOMIZE, namespace)  # the shim's finder, as its .pth file installs it
    finder = sys.meta_path[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, bindings = import_bindings()
    finally:
        sys.meta_path.remove(finder)
    assert bindings.package == "nvidia-ml-py" and bindings.version == "13.615.71"
    assert bindings.installed == {"nvidia-ml-py": "13.615.71", "pynvml": "13.0.1"}
    assert bindings.warnings == [f"FutureWarning: {SHIM_MESSAGE}"]
    assert bindings.file is None
    notes = bindings.notes()
    assert any("the deprecated pynvml package 13.0.1 is installed beside nvidia-ml-py" in n for n in notes)
    assert not any("no known package" in n for n in notes)


def test_old_community_bindings_are_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_pynvml: None
) -> None:
    from pytest_carbon.probes.nvml import import_bindings

    site = tmp_path / "site"
    (site / "pynvml").mkdir(parents=True)
    (site / "pynvml" / "__init__.py").write_text("from pynvml.nvml import *\n", encoding="utf-8")
    (site / "pynvml" / "nvml.py").write_text("def nvmlInit():\n    pass\n", encoding="utf-8")
    _dist_info(site, "pynvml", "11.5.0", ["pynvml/__init__.py,,", "pynvml/nvml.py,,"])
    monkeypatch.syspath_prepend(str(site))
    _, bindings = import_bindings()
    assert (bindings.package, bindings.version, bindings.warnings) == ("pynvml", "11.5.0", [])
    (note,) = bindings.notes()
    assert "pynvml package 11.5.0 (the community bindings, deprecated)" in note
    assert "nvidia-ml-py" in note


def test_versions_are_described() -> None:
    nvml = FakeNvml([FakeGpu(UUIDS[0])])
    nvml.nvmlSystemGetDriverVersion = lambda: b"550.54.15"  # type: ignore[attr-defined]
    nvml.nvmlSystemGetNVMLVersion = lambda: "12.550.54.15"  # type: ignore[attr-defined]
    nvml.nvmlSystemGetCudaDriverVersion = lambda: 12040  # type: ignore[attr-defined]
    probe = NvmlProbe(nvml, environ={})
    probe.start()
    inputs = probe.describe()["inputs"]
    probe.close()
    assert (inputs["driver_version"], inputs["nvml_version"], inputs["cuda_driver_version"]) == (
        "550.54.15",
        "12.550.54.15",
        "12.4",
    )
    assert inputs["bindings"] == {"module": "given"}


def test_versions_missing_from_old_bindings_are_none() -> None:
    probe = NvmlProbe(FakeNvml([FakeGpu(UUIDS[0])]), environ={})
    probe.start()
    inputs = probe.describe()["inputs"]
    probe.close()
    assert inputs["driver_version"] is None and inputs["cuda_driver_version"] is None


def test_asked_by_name_without_driver_or_bindings_is_not_present(tmp_path: Path) -> None:
    if nvml_possible(str(tmp_path)):
        pytest.skip("this machine has an NVIDIA driver")
    import importlib.util

    if importlib.util.find_spec("pynvml") is not None:
        pytest.skip("pynvml is installed here")
    with pytest.raises(NotPresent, match="no NVIDIA driver"):
        NvmlProbe(proc_root=str(tmp_path), required=True).start()


def test_asked_by_name_the_bindings_are_tried_without_a_driver_sign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_pynvml: None
) -> None:
    monkeypatch.syspath_prepend(str(write_standin(tmp_path / "site")))
    probe = NvmlProbe(proc_root=str(tmp_path / "proc"), environ={}, required=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe.start()
    try:
        assert [g.name for g in probe.gpus] == ["Stand-in H100"]
        assert probe.bindings is not None and probe.bindings.warnings == [f"FutureWarning: {SHIM_MESSAGE}"]
    finally:
        probe.close()
    with pytest.raises(NotPresent, match="no NVIDIA driver"):  # not asked by name: not even imported
        NvmlProbe(proc_root=str(tmp_path / "proc"), environ={}).start()


# ---- whole runs with the stand-in on the path: no warning shows, GPU metering stays on

SUITE = """
import time


def test_waits():
    time.sleep(0.4)


def test_quick():
    pass
"""


def _standin_env(monkeypatch: pytest.MonkeyPatch, site: Path, *, shim: bool = False) -> None:
    if shim:
        (site / "sitecustomize.py").write_text(SHIM_SITECUSTOMIZE, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))


def _metered(result: pytest.RunResult, report: Path) -> dict[str, Any]:
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == 0, output
    for word in ("Warning", "warnings summary", "deprecated"):
        assert word not in output, output
    data = load_report(report)
    (nvml,) = [p for p in data["machine"]["probes"] if p["name"] == "nvml"]
    assert nvml["inputs"]["gpus"][0]["name"] == "Stand-in H100"
    assert nvml["inputs"]["driver_version"] == "550.54.15"
    assert any(
        n.startswith("importing pynvml warned (FutureWarning: The pynvml package is deprecated") for n in nvml["notes"]
    )
    tests = {t["nodeid"].split("::")[-1]: t for t in data["tests"]}
    # 75 W while the test waits 0.4 s: about 30 J charged to it by wall time
    assert tests["test_waits"]["components_j"]["gpu"] == pytest.approx(75 * tests["test_waits"]["duration_s"], rel=0.35)
    assert data["session"]["components_j"]["gpu"] > tests["test_waits"]["components_j"]["gpu"]
    return data


@pytest.mark.parametrize("shim", [False, True], ids=["module-warns", "shim-finder-warns"])
def test_run_under_w_error_keeps_gpu_metering(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, shim: bool
) -> None:
    site = write_standin(pytester.path / "site", None if shim else "FutureWarning")
    _standin_env(monkeypatch, site, shim=shim)
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "-W",
        "error",
        "--carbon",
        "--carbon-probe=nvml",
        "--carbon-json=r.json",
        "--carbon-period=0.05",
        "-p",
        "no:cacheprovider",
        "test_suite.py",
    )
    _metered(result, pytester.path / "r.json")


def test_run_with_filterwarnings_error_in_the_ini_keeps_gpu_metering(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _standin_env(monkeypatch, write_standin(pytester.path / "site"))
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "--carbon",
        "--carbon-probe=nvml",
        "--carbon-json=r.json",
        "--carbon-period=0.05",
        "-p",
        "no:cacheprovider",
        "test_suite.py",
    )
    _metered(result, pytester.path / "r.json")


def test_run_with_python_warnings_as_errors_keeps_gpu_metering(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PYTHONWARNINGS=error: the interpreter's own filters, as python -W error sets them."""
    _standin_env(monkeypatch, write_standin(pytester.path / "site", None), shim=True)
    monkeypatch.setenv("PYTHONWARNINGS", "error")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        "--carbon",
        "--carbon-probe=nvml",
        "--carbon-json=r.json",
        "--carbon-period=0.05",
        "-p",
        "no:cacheprovider",
        "test_suite.py",
    )
    _metered(result, pytester.path / "r.json")


def _python(*args: str, env_site: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(env_site))
    return subprocess.run(
        [sys.executable, "-W", "error", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.mark.parametrize("shim", [False, True], ids=["module-warns", "shim-finder-warns"])
def test_python_w_error_import_and_start(tmp_path: Path, shim: bool) -> None:
    site = write_standin(tmp_path / "site", None if shim else "FutureWarning")
    if shim:
        (site / "sitecustomize.py").write_text(SHIM_SITECUSTOMIZE, encoding="utf-8")
    done = _python("-c", "import pytest_carbon.probes.nvml", env_site=site)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    start = (
        "from pytest_carbon.probes.nvml import NvmlProbe\n"
        "p = NvmlProbe(required=True)\n"
        "p.start()\n"
        "print(p.describe()['inputs']['gpus'][0]['name'])\n"
        "p.close()\n"
    )
    done = _python("-c", start, env_site=site)
    assert (done.returncode, done.stdout, done.stderr) == (0, "Stand-in H100\n", "")


def test_probes_command_names_the_bindings_and_versions(tmp_path: Path) -> None:
    site = write_standin(tmp_path / "site", None)
    (site / "sitecustomize.py").write_text(SHIM_SITECUSTOMIZE, encoding="utf-8")
    _dist_info(site, "nvidia-ml-py", "13.615.71", ["pynvml.py,,"])
    _dist_info(site, "pynvml", "13.0.1", ["_pynvml_redirector.py,,"])
    main_call = "import sys\nfrom pytest_carbon.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    done = _python("-c", main_call, "probes", "--json", env_site=site)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    nvml = json.loads(done.stdout)["nvml"]
    assert nvml["status"] == "measured"
    assert nvml["bindings"]["package"] == "nvidia-ml-py" and nvml["bindings"]["version"] == "13.615.71"
    assert nvml["installed_bindings"] == {"nvidia-ml-py": "13.615.71", "pynvml": "13.0.1"}
    assert (nvml["driver_version"], nvml["nvml_version"], nvml["cuda_driver_version"]) == (
        "550.54.15",
        "12.550.54.15",
        "12.4",
    )
    assert nvml["bindings"]["import_warnings"] == [f"FutureWarning: {SHIM_MESSAGE}"]
    assert any("pynvml package 13.0.1 is installed beside nvidia-ml-py" in n for n in nvml["notes"])
    done = _python("-c", main_call, "probes", env_site=site)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "NVML: bindings nvidia-ml-py 13.615.71, driver 550.54.15, NVML 12.550.54.15, CUDA 12.4" in done.stdout
    assert "NVML GPU 0 (Stand-in H100)" in done.stdout


def test_probes_command_without_driver_or_bindings() -> None:
    if nvml_possible():
        pytest.skip("this machine has an NVIDIA driver")
    import importlib.util

    if importlib.util.find_spec("pynvml") is not None:
        pytest.skip("pynvml is installed here")
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            "import sys\nfrom pytest_carbon.cli import main\nsys.exit(main(['probes']))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert "NVML: bindings installed: none" in done.stdout
    assert "NVML: no NVIDIA driver on this machine" in done.stdout


def test_gpu_extra_names_nvidia_ml_py() -> None:
    """The gpu extra's requirement as pip reads it from the project's metadata: NVIDIA's bindings, no shim."""
    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer

    root = Path(__file__).resolve().parent.parent
    with open(root / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    (gpu,) = [Requirement(r) for r in project["optional-dependencies"]["gpu"]]
    assert gpu.name == "nvidia-ml-py" and gpu.specifier.contains("13.615.71")
    every = [*project["dependencies"], *(r for reqs in project["optional-dependencies"].values() for r in reqs)]
    assert "pynvml" not in {Requirement(r).name for r in every}


def test_asked_by_name_without_a_driver_nvml_failing_to_start_is_not_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_pynvml: None
) -> None:
    """Real bindings on a machine with no driver: NVML's library is not found when initialised."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "pynvml.py").write_text(
        "class NVMLError(Exception):\n"
        "    value = 12\n"
        "    def __str__(self):\n"
        "        return 'NVML Shared Library Not Found'\n"
        "def nvmlInit():\n"
        "    raise NVMLError()\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(NotPresent, match=r"no NVIDIA driver.*NVML cannot initialise: NVML Shared Library Not Found"):
        NvmlProbe(proc_root=str(tmp_path / "proc"), environ={}, required=True).start()
