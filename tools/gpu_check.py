"""Check pytest-carbon's NVIDIA GPU path on a machine with a GPU, and write what was found.

Usage: ``python tools/gpu_check.py [--out FOLDER] [--seconds S]``

Run with the interpreter that has pytest-carbon and its ``gpu`` extra installed. It needs no
network and takes well under two minutes (``--seconds`` sets how long each idle or busy stretch
lasts; 3 s by default). Where no NVIDIA driver is seen it writes "no GPU" and exits 0.

What it does, in order:

1. ``pytest-carbon probes --json``: the bindings, driver and NVML versions, the GPUs.
2. Finds a way to load the GPU: PyTorch or CuPy when importable with a CUDA device, else a
   spin kernel launched through the CUDA driver library itself (``libcuda.so.1``, which comes
   with the driver) by ctypes. With none of them the busy checks are skipped, with a line that
   says why.
3. Over one interval (idle, busy, idle), reads the total-energy counter at both ends and the
   board power every 20 ms, and compares the counter's energy with the integrated power.
4. Runs a short suite under ``--carbon --carbon-probe=nvml`` (a test that waits, a test that
   loads the GPU, a test that waits) while sampling the counter itself, and compares each test's
   GPU energy in the report with the counter's energy over that test's own time span (taken by
   the suite's conftest); checks that the busy test's average GPU power is above the idle ones'.
5. Runs a one-test suite with ``CUDA_VISIBLE_DEVICES`` empty (no GPU metered) and set to one
   GPU's UUID (that GPU alone); with two GPUs or more, also the busy suite on the second GPU
   alone, its figures compared with that GPU's counter.

Findings go to ``FOLDER/gpu_check.json`` and ``FOLDER/gpu_check.txt`` (default ``gpu-check``).
Exit status: 0 when every check passed or was skipped (or there is no GPU), 1 when a check
failed, 2 when a driver is there but NVML cannot be used (the text says the fix).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: the bounds the checks hold the figures to
BOUNDS: dict[str, float] = {
    # counter energy against integrated board power over the same interval: NVML's power reading
    # is averaged over up to a second on recent GPUs and the counter moves in steps of tens of
    # milliseconds, so they agree to a few per cent over several seconds that start and end idle
    "counter_vs_power_rel": 0.10,
    "counter_vs_power_abs_j": 2.0,
    # a test's GPU energy in the report against the counter's over the test's own time span: the
    # plugin splits each sample interval by wall time, so a boundary costs up to a period's worth
    "attribution_rel": 0.15,
    "attribution_abs_j": 2.0,
    # the busy test's average GPU power against the idle tests'
    "busy_over_idle_ratio": 1.2,
    "busy_over_idle_w": 10.0,
}
#: the plugin's sampling period in the suite runs, seconds
PERIOD_S = 0.1
#: how often the checker itself reads the counters, seconds
SAMPLE_S = 0.02

SUITE_CONFTEST = """
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.environ["GPU_CHECK_TOOLS"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.monotonic()
    yield
    end = time.monotonic()
    with open(os.environ["GPU_CHECK_SPANS"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"nodeid": item.nodeid, "start": start, "end": end}) + "\\n")
"""

SUITE_TESTS = """
import os
import time

import pytest

SECONDS = float(os.environ["GPU_CHECK_SECONDS"])
METHOD = os.environ.get("GPU_CHECK_METHOD", "")


def test_idle_before():
    time.sleep(SECONDS)


def test_busy():
    if not METHOD:
        pytest.skip("no way to load the GPU here")
    import gpu_check

    gpu_check.gpu_work(METHOD, SECONDS)


def test_idle_after():
    time.sleep(SECONDS)
"""

SUITE_ONE = """
import time


def test_waits():
    time.sleep(0.5)
"""


# ---- checks: pure functions of the figures, so that they can be tested without a GPU


def check(name: str, passed: bool | None, detail: str, **figures: Any) -> dict[str, Any]:
    """One finding: ``passed`` None means skipped."""
    status = "skip" if passed is None else ("pass" if passed else "fail")
    return {"name": name, "status": status, "detail": detail, "figures": figures}


def trapezoid_j(samples: Sequence[tuple[float, float]]) -> float:
    """Energy in joules from (time s, power mW) samples, by the trapezoid rule."""
    total_mj = 0.0
    for (t0, p0), (t1, p1) in itertools.pairwise(samples):
        total_mj += (p0 + p1) / 2 * (t1 - t0)
    return total_mj / 1000


def counter_between_j(samples: Sequence[tuple[float, int]], start: float, end: float) -> float:
    """Counter energy (J) between two times, from (time s, counter mJ) samples, linearly interpolated."""

    def at(t: float) -> float:
        if t <= samples[0][0]:
            return float(samples[0][1])
        for (t0, e0), (t1, e1) in itertools.pairwise(samples):
            if t0 <= t <= t1:
                return e0 + (e1 - e0) * ((t - t0) / (t1 - t0) if t1 > t0 else 0.0)
        return float(samples[-1][1])

    return (at(end) - at(start)) / 1000


def within(measured: float, reference: float, rel: float, abs_j: float) -> bool:
    """True when ``measured`` is within ``rel`` of ``reference`` or ``abs_j`` joules of it."""
    return abs(measured - reference) <= max(rel * abs(reference), abs_j)


def counter_vs_power(gpu: str, counter_j: float, power_j: float, seconds: float) -> dict[str, Any]:
    """The counter's energy and the integrated power's over one interval agree within the bound."""
    rel, abs_j = BOUNDS["counter_vs_power_rel"], BOUNDS["counter_vs_power_abs_j"]
    ok = within(power_j, counter_j, rel, abs_j)
    diff = (power_j - counter_j) / counter_j if counter_j else float("nan")
    return check(
        f"counter vs integrated power ({gpu})",
        ok,
        f"counter {counter_j:.1f} J, integrated power {power_j:.1f} J over {seconds:.1f} s "
        f"({diff:+.1%}; bound {rel:.0%} or {abs_j:g} J)",
        counter_j=counter_j,
        power_j=power_j,
        seconds=seconds,
        relative_difference=diff,
    )


def attribution(
    label: str, report: Mapping[str, Any], spans: Mapping[str, tuple[float, float]], reference_j: Mapping[str, float]
) -> dict[str, Any]:
    """Every test that ran is in the report, and its GPU energy is the counter's over its span."""
    tests = {t["nodeid"]: t for t in report.get("tests", [])}
    missing = sorted(set(spans) - set(tests))
    if missing:
        return check(f"attribution ({label})", False, f"tests that ran are missing from the report: {missing}")
    rel, abs_j = BOUNDS["attribution_rel"], BOUNDS["attribution_abs_j"]
    rows: dict[str, dict[str, float]] = {}
    bad: list[str] = []
    for nodeid in spans:
        got = float(tests[nodeid]["components_j"]["gpu"])
        ref = reference_j[nodeid]
        rows[nodeid] = {"report_j": got, "counter_j": ref}
        if not within(got, ref, rel, abs_j):
            bad.append(f"{nodeid}: report {got:.1f} J, counter {ref:.1f} J")
    tests_j = sum(float(t["components_j"]["gpu"]) for t in tests.values())
    session_j = float(report.get("session", {}).get("components_j", {}).get("gpu", 0.0))
    if tests_j > session_j * 1.001 + 1e-6:
        bad.append(f"the tests' GPU energy ({tests_j:.1f} J) is more than the session's ({session_j:.1f} J)")
    text = "; ".join(bad) if bad else ", ".join(f"{n.split('::')[-1]} {r['report_j']:.1f} J" for n, r in rows.items())
    return check(
        f"attribution ({label})",
        not bad,
        f"{text} (report against the counter over each test's span; bound {rel:.0%} or {abs_j:g} J)",
        tests=rows,
        tests_j=tests_j,
        session_j=session_j,
    )


def idle_busy(report: Mapping[str, Any], busy: str, idle: Sequence[str]) -> dict[str, Any]:
    """The busy test's average GPU power is above the idle tests' by the bound."""
    tests = {t["nodeid"].split("::")[-1]: t for t in report.get("tests", [])}
    if busy not in tests or tests[busy]["outcome"] != "passed":
        return check("idle vs busy", None, "the busy test did not run: no way to load the GPU here")

    def watts(name: str) -> float:
        t = tests[name]
        return float(t["components_j"]["gpu"]) / max(float(t["duration_s"]), 1e-9)

    busy_w = watts(busy)
    idle_w = max(watts(n) for n in idle if n in tests)
    ratio, margin = BOUNDS["busy_over_idle_ratio"], BOUNDS["busy_over_idle_w"]
    ok = busy_w >= idle_w * ratio and busy_w >= idle_w + margin
    return check(
        "idle vs busy",
        ok,
        f"busy {busy_w:.1f} W, idle {idle_w:.1f} W (bound: busy at least {ratio:g} x idle and idle + {margin:g} W)",
        busy_w=busy_w,
        idle_w=idle_w,
    )


def visible_gpus(report: Mapping[str, Any]) -> list[str] | None:
    """The UUIDs the report's NVML probe read; None when it did not run."""
    for probe in report.get("machine", {}).get("probes", []):
        if probe.get("name") == "nvml":
            return [g["uuid"] for g in probe.get("inputs", {}).get("gpus", [])]
    return None


# ---- the GPU: NVML directly, and ways to load it


class Nvml:
    """NVML opened by the checker itself, for the GPUs its environment leaves visible."""

    def __init__(self) -> None:
        from pytest_carbon.probes.nvml import import_bindings, visible_devices

        self.module, self.bindings = import_bindings()
        self.module.nvmlInit()
        count = int(self.module.nvmlDeviceGetCount())
        handles = [self.module.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [self._text(self.module.nvmlDeviceGetUUID(h)) for h in handles]
        chosen = visible_devices(os.environ, uuids).indices
        self.gpus = [(i, uuids[i], handles[i]) for i in chosen]

    @staticmethod
    def _text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    def energy_mj(self, handle: Any) -> int | None:
        try:
            return int(self.module.nvmlDeviceGetTotalEnergyConsumption(handle))
        except Exception:  # not supported on this GPU
            return None

    def power_mw(self, handle: Any) -> float:
        return float(self.module.nvmlDeviceGetPowerUsage(handle))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.module.nvmlShutdown()


class Sampler:
    """Reads every GPU's counter and power every ``SAMPLE_S`` in a thread."""

    def __init__(self, nvml: Nvml) -> None:
        self.nvml = nvml
        self.energy: dict[str, list[tuple[float, int]]] = {uuid: [] for _, uuid, _ in nvml.gpus}
        self.power: dict[str, list[tuple[float, float]]] = {uuid: [] for _, uuid, _ in nvml.gpus}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for _, uuid, handle in self.nvml.gpus:
            now = time.monotonic()
            mj = self.nvml.energy_mj(handle)
            if mj is not None:
                self.energy[uuid].append((now, mj))
            self.power[uuid].append((time.monotonic(), self.nvml.power_mw(handle)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> Sampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


#: a kernel every thread of which runs a chain of ``n`` dependent multiply-adds (PTX, JIT-compiled
#: by the driver for whatever GPU is there)
SPIN_PTX = r"""
.version 6.0
.target sm_50
.address_size 64

.visible .entry spin(.param .u64 out, .param .u32 n)
{
    .reg .pred %p;
    .reg .b32 %r<6>;
    .reg .f32 %f<4>;
    .reg .b64 %rd<4>;

    ld.param.u64 %rd1, [out];
    ld.param.u32 %r1, [n];
    mov.u32 %r2, %tid.x;
    mov.u32 %r3, %ctaid.x;
    mov.u32 %r4, %ntid.x;
    mad.lo.u32 %r2, %r3, %r4, %r2;
    cvt.rn.f32.u32 %f1, %r2;
    mov.f32 %f2, 0f3F800000;
    mov.f32 %f3, 0f3F7FFFF0;
    mov.u32 %r5, 0;
$L_spin:
    fma.rn.f32 %f1, %f1, %f3, %f2;
    add.u32 %r5, %r5, 1;
    setp.lt.u32 %p, %r5, %r1;
    @%p bra $L_spin;
    cvta.to.global.u64 %rd2, %rd1;
    mul.wide.u32 %rd3, %r2, 4;
    add.u64 %rd2, %rd2, %rd3;
    st.global.f32 [%rd2], %f1;
    ret;
}
"""


def _cuda_driver_work(seconds: float) -> None:
    cuda = ctypes.CDLL("libcuda.so.1")
    # function; grid x, y, z; block x, y, z; shared memory bytes; stream, parameters, extra
    cuda.cuLaunchKernel.argtypes = [ctypes.c_void_p, *([ctypes.c_uint] * 7), *([ctypes.c_void_p] * 3)]

    def ok(rc: int, what: str) -> None:
        if rc != 0:
            raise RuntimeError(f"CUDA driver: {what} failed (error {rc})")

    blocks, threads = 2048, 256
    ok(cuda.cuInit(0), "cuInit")
    device = ctypes.c_int()
    ok(cuda.cuDeviceGet(ctypes.byref(device), 0), "cuDeviceGet")
    context = ctypes.c_void_p()
    ok(cuda.cuCtxCreate_v2(ctypes.byref(context), 0, device), "cuCtxCreate")
    try:
        module = ctypes.c_void_p()
        ok(cuda.cuModuleLoadData(ctypes.byref(module), ctypes.c_char_p(SPIN_PTX.encode())), "cuModuleLoadData")
        function = ctypes.c_void_p()
        ok(cuda.cuModuleGetFunction(ctypes.byref(function), module, b"spin"), "cuModuleGetFunction")
        out = ctypes.c_uint64()
        ok(cuda.cuMemAlloc_v2(ctypes.byref(out), ctypes.c_size_t(blocks * threads * 4)), "cuMemAlloc")
        n = ctypes.c_uint32(1 << 20)
        params = (ctypes.c_void_p * 2)(
            ctypes.cast(ctypes.byref(out), ctypes.c_void_p), ctypes.cast(ctypes.byref(n), ctypes.c_void_p)
        )
        end = time.monotonic() + seconds
        while True:
            began = time.monotonic()
            ok(cuda.cuLaunchKernel(function, blocks, 1, 1, threads, 1, 1, 0, None, params, None), "cuLaunchKernel")
            ok(cuda.cuCtxSynchronize(), "cuCtxSynchronize")
            took = time.monotonic() - began
            if time.monotonic() >= end:
                break
            if took < 0.05:  # aim at launches of about 0.1 s
                n.value = min(n.value * 2, 1 << 30)
        cuda.cuMemFree_v2(out)
    finally:
        cuda.cuCtxDestroy_v2(context)


def _torch_work(seconds: float) -> None:
    import torch

    a = torch.randn(4096, 4096, device="cuda")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(10):
            a = torch.tanh(a @ a)
        torch.cuda.synchronize()


def _cupy_work(seconds: float) -> None:
    import cupy

    a = cupy.random.standard_normal((4096, 4096), dtype=cupy.float32)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(10):
            a = cupy.tanh(a @ a)
        cupy.cuda.Device().synchronize()


WORK = {"torch": _torch_work, "cupy": _cupy_work, "cuda-driver": _cuda_driver_work}


def gpu_work(method: str, seconds: float) -> None:
    """Keep the first visible GPU busy for about ``seconds`` with ``method`` (a key of WORK)."""
    WORK[method](seconds)


def find_method() -> tuple[str | None, list[str]]:
    """The first way to load the GPU that works here (tried for a moment), and why the others did not."""
    why: list[str] = []
    for name in ("torch", "cupy"):
        try:
            module = importlib.import_module(name)
            usable = bool(module.cuda.is_available()) if name == "torch" else module.cuda.runtime.getDeviceCount() > 0
        except Exception as err:
            why.append(f"{name}: {type(err).__name__}: {err}" if str(err) else f"{name}: not importable")
            continue
        if usable:
            return name, why
        why.append(f"{name}: no CUDA device")
    try:
        _cuda_driver_work(0.05)
    except Exception as err:
        why.append(f"cuda-driver (libcuda.so.1 by ctypes): {err}")
        return None, why
    return "cuda-driver", why


# ---- running pytest-carbon


def run(cmd: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 180) -> tuple[int, str]:
    """Run a command; its exit code and output (stdout then stderr)."""
    done = subprocess.run(cmd, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    return done.returncode, done.stdout + done.stderr


def probes_json(env: Mapping[str, str], cwd: Path) -> dict[str, Any]:
    """What ``pytest-carbon probes --json`` says here."""
    code, out = run([sys.executable, "-m", "pytest_carbon.cli", "probes", "--json"], env, cwd)
    try:
        found: dict[str, Any] = json.loads(out[out.index("{") :])
    except ValueError:
        return {"error": f"exit {code}: {out[-2000:]}"}
    return found


def run_suite(
    folder: Path, tests: str, env: Mapping[str, str], name: str
) -> tuple[int, str, dict[str, Any], dict[str, tuple[float, float]]]:
    """Run a suite under --carbon; exit code, output, JSON report and each test's time span."""
    suite = folder / name
    suite.mkdir(parents=True, exist_ok=True)
    (suite / "conftest.py").write_text(SUITE_CONFTEST, encoding="utf-8")
    (suite / "test_gpu.py").write_text(tests, encoding="utf-8")
    spans_file = suite / "spans.jsonl"
    spans_file.unlink(missing_ok=True)
    report_file = suite / "report.json"
    env = dict(env, GPU_CHECK_SPANS=str(spans_file), GPU_CHECK_TOOLS=str(Path(__file__).resolve().parent))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "--carbon", "--carbon-probe=nvml"]
    cmd += [f"--carbon-json={report_file}", f"--carbon-period={PERIOD_S}", "test_gpu.py"]
    code, out = run(cmd, env, suite)
    report: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        report = json.loads(report_file.read_text(encoding="utf-8"))
    spans: dict[str, tuple[float, float]] = {}
    with contextlib.suppress(OSError):
        for line in spans_file.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            spans[entry["nodeid"]] = (entry["start"], entry["end"])
    return code, out, report, spans


# ---- the whole check


def write_findings(out: Path, findings: dict[str, Any]) -> None:
    """The findings as JSON and as text."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(findings, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "gpu_check.txt").write_text(render(findings) + "\n", encoding="utf-8")


def render(findings: Mapping[str, Any]) -> str:
    """The findings as lines to read."""
    lines = [f"gpu_check: {findings['summary']}"]
    nvml = findings.get("probes", {}).get("nvml", {})
    if nvml:
        bindings = nvml.get("bindings") or {}
        if bindings.get("package"):
            used = f"{bindings['package']} {bindings.get('version')}"
        elif bindings.get("file"):
            used = f"a pynvml module of no known package ({bindings['file']})"
        else:
            installed = nvml.get("installed_bindings") or {}
            used = "installed: " + (", ".join(f"{k} {v}" for k, v in installed.items()) or "none")
        versions = ", ".join(
            f"{label} {nvml[key]}"
            for key, label in (("driver_version", "driver"), ("nvml_version", "NVML"), ("cuda_driver_version", "CUDA"))
            if nvml.get(key)
        )
        lines.append(f"bindings: {used}" + (f"; {versions}" if versions else ""))
    for gpu in findings.get("gpus", []):
        lines.append(f"GPU {gpu['index']}: {gpu['name']} ({gpu['uuid']}), {gpu['source']}")
    if findings.get("work"):
        lines.append(f"GPU work: {findings['work']}")
    for reason in findings.get("work_not_used", []):
        lines.append(f"  not used: {reason}")
    for item in findings.get("checks", []):
        lines.append(f"[{item['status']}] {item['name']}: {item['detail']}")
    lines.append(f"took {findings.get('took_s', 0):.1f} s")
    return "\n".join(lines)


def _no_gpu(out: Path, findings: dict[str, Any], reason: str, started: float) -> int:
    findings.update(gpu=False, summary=f"no GPU: {reason}; nothing to check", took_s=time.monotonic() - started)
    write_findings(out, findings)
    print(render(findings))
    return 0


def gpu_check(out: Path, seconds: float, driver_check: bool = True) -> int:
    """Run every check; write the findings under ``out``; the exit status (see the module's text)."""
    from pytest_carbon.probes.nvml import nvml_possible

    started = time.monotonic()
    findings: dict[str, Any] = {
        "bounds": BOUNDS,
        "seconds": seconds,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "checks": [],
    }
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        folder = Path(tmp)
        findings["probes"] = probes_json(env, folder)
        if driver_check and not nvml_possible():
            return _no_gpu(out, findings, "no NVIDIA driver on this machine", started)
        nvml_found = findings["probes"].get("nvml", {})
        if nvml_found.get("status") != "measured":
            why = nvml_found.get("why") or findings["probes"].get("error", "unknown")
            if not driver_check or nvml_found.get("status") == "absent":
                return _no_gpu(out, findings, why, started)
            findings.update(gpu=True, summary=f"cannot check: NVML is not usable: {why}; fix: {nvml_found.get('fix')}")
            findings["took_s"] = time.monotonic() - started
            write_findings(out, findings)
            print(render(findings))
            return 2
        findings["gpu"] = True
        findings["gpus"] = nvml_found.get("gpus", [])
        method, why_not = find_method()
        findings["work"], findings["work_not_used"] = method, why_not
        checks: list[dict[str, Any]] = findings["checks"]
        nvml = Nvml()
        try:
            checks += _counter_checks(nvml, method, seconds)
            checks += _suite_checks(nvml, folder, env, method, seconds)
            checks += _visibility_checks(nvml, folder, env, method, seconds)
        finally:
            nvml.close()
    failed = [c["name"] for c in checks if c["status"] == "fail"]
    findings["summary"] = f"{len(failed)} check(s) failed: {', '.join(failed)}" if failed else "every check passed"
    findings["took_s"] = time.monotonic() - started
    write_findings(out, findings)
    print(render(findings))
    return 1 if failed else 0


def _counter_checks(nvml: Nvml, method: str | None, seconds: float) -> list[dict[str, Any]]:
    pad = seconds / 2
    with Sampler(nvml) as sampler:
        time.sleep(pad)
        if method:
            gpu_work(method, seconds)
        time.sleep(pad)
    found = []
    for _, uuid, _ in nvml.gpus:
        energy, power = sampler.energy[uuid], sampler.power[uuid]
        if len(energy) < 2:
            found.append(check(f"counter vs integrated power ({uuid})", None, "this GPU has no energy counter"))
            continue
        start, end = energy[0][0], energy[-1][0]
        power_in = [(t, p) for t, p in power if start <= t <= end]
        found.append(counter_vs_power(uuid, counter_between_j(energy, start, end), trapezoid_j(power_in), end - start))
    return found


def _suite_checks(
    nvml: Nvml, folder: Path, env: Mapping[str, str], method: str | None, seconds: float, uuids: list[str] | None = None
) -> list[dict[str, Any]]:
    label = "all visible GPUs" if uuids is None else f"CUDA_VISIBLE_DEVICES={uuids[0]}"
    chosen = [u for _, u, _ in nvml.gpus] if uuids is None else uuids
    run_env = dict(env, GPU_CHECK_SECONDS=str(seconds), GPU_CHECK_METHOD=method or "")
    if uuids is not None:
        run_env["CUDA_VISIBLE_DEVICES"] = ",".join(uuids)
    with Sampler(nvml) as sampler:
        code, out, report, spans = run_suite(folder, SUITE_TESTS, run_env, "suite" if uuids is None else "suite-one")
    if code != 0 or not report:
        return [check(f"suite run ({label})", False, f"exit {code}; output: {out[-1500:]}")]
    found = [
        check(
            f"GPUs read ({label})",
            visible_gpus(report) == chosen,
            f"the report's NVML probe read {visible_gpus(report)}; expected {chosen}",
        )
    ]
    if any(len(sampler.energy[u]) < 2 for u in chosen):
        found.append(check(f"attribution ({label})", None, "no energy counter to compare with"))
        return found
    reference = {n: sum(counter_between_j(sampler.energy[u], s, e) for u in chosen) for n, (s, e) in spans.items()}
    found.append(attribution(label, report, spans, reference))
    if uuids is None:
        found.append(idle_busy(report, "test_busy", ["test_idle_before", "test_idle_after"]))
    return found


def _visibility_checks(
    nvml: Nvml, folder: Path, env: Mapping[str, str], method: str | None, seconds: float
) -> list[dict[str, Any]]:
    found = []
    code, out, report, _ = run_suite(folder, SUITE_ONE, dict(env, CUDA_VISIBLE_DEVICES=""), "visible-none")
    gpu_j = sum(float(t["components_j"]["gpu"]) for t in report.get("tests", []))
    ok = code == 0 and visible_gpus(report) is None and gpu_j == 0 and "CUDA_VISIBLE_DEVICES is empty" in out
    found.append(
        check(
            "CUDA_VISIBLE_DEVICES empty",
            ok,
            f"exit {code}; NVML probe {'not run' if visible_gpus(report) is None else 'ran'}; tests' GPU energy "
            f"{gpu_j:.3f} J; the run {'says' if 'CUDA_VISIBLE_DEVICES is empty' in out else 'does not say'} why",
        )
    )
    last = nvml.gpus[-1][1]
    code, out, report, _ = run_suite(folder, SUITE_ONE, dict(env, CUDA_VISIBLE_DEVICES=last), "visible-last")
    read = visible_gpus(report)
    found.append(
        check(
            "CUDA_VISIBLE_DEVICES one GPU by UUID",
            code == 0 and read == [last],
            f"exit {code}; NVML probe read {read}; expected [{last}]",
        )
    )
    if len(nvml.gpus) >= 2:
        found += _suite_checks(nvml, folder, env, method, seconds, uuids=[nvml.gpus[1][1]])
    else:
        found.append(check("busy suite on one GPU of several", None, "one GPU visible: nothing to tell apart"))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("gpu-check"), help="folder for the findings")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each idle or busy stretch")
    parser.add_argument(
        "--no-driver-check",
        action="store_true",
        help="go on where no NVIDIA driver is seen (for a pynvml stand-in; its figures prove nothing about a GPU)",
    )
    args = parser.parse_args(argv)
    return gpu_check(args.out, args.seconds, driver_check=not args.no_driver_check)


if __name__ == "__main__":
    raise SystemExit(main())
