"""NVIDIA GPU energy through NVML (the ``pynvml`` module of NVIDIA's ``nvidia-ml-py``, extra ``gpu``).

Per visible GPU, the total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, millijoules
since the driver loaded; Volta and newer) is read at every sample. Where the GPU does not
support it, the board power (``nvmlDeviceGetPowerUsage``, milliwatts) is sampled at every read
and integrated with the trapezoid rule. NVML is initialised once, lazily, and only when a driver
can be there (or when the probe is asked for by name), since initialising it costs tens of
milliseconds.

The ``pynvml`` module is imported with every warning caught: the deprecated ``pynvml`` package
(13.x) is a shim that warns with a ``FutureWarning`` when ``pynvml`` is imported, which under
``-W error`` or ``filterwarnings = error`` would stop GPU metering or break the run. A warning
caught there is noted once in the probe's description, never raised or shown. Which package
provided the module, the versions of the bindings, the driver and NVML are recorded too.
"""

from __future__ import annotations

import importlib
import os
import time
import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

from pytest_carbon.probes._common import IdleFloor, NotPresent
from pytest_carbon.probes._common import nvml_possible as nvml_possible  # its home before; callers import it here
from pytest_carbon.probes.base import ComponentEnergy, MachineLoad, Probe, ProbeError

#: NVML's return code for "this device does not support the call" (nvml.h)
NVML_ERROR_NOT_SUPPORTED = 3

#: the packages that can provide the ``pynvml`` module, and what each is
BINDINGS = {
    "nvidia-ml-py": "NVIDIA's bindings",
    "pynvml": "the community bindings; from 12.0 a deprecated shim over nvidia-ml-py",
    "nvidia-ml-py3": "an old copy of NVIDIA's bindings (2017)",
}
#: what to install to get NVIDIA's bindings
INSTALL_HINT = "pip install 'pytest-carbon[gpu]' (NVIDIA's bindings, the nvidia-ml-py package)"
NO_DRIVER = "NVML: no NVIDIA driver on this machine (no /proc/driver/nvidia, no libnvidia-ml)"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Bindings(NamedTuple):
    """Where the ``pynvml`` module came from, and what importing it said."""

    #: the package that provided the module ("nvidia-ml-py", "pynvml", ...); None: none known
    package: str | None
    #: that package's version
    version: str | None
    #: every package of ``BINDINGS`` installed, and its version
    installed: dict[str, str]
    #: the warnings caught while importing the module, as "Category: message", each once
    warnings: list[str]
    #: the module's file, where no known package provided it
    file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form, for the probe's description."""
        return {
            "module": "pynvml",
            "package": self.package,
            "version": self.version,
            "installed": dict(self.installed),
            "import_warnings": list(self.warnings),
            "file": self.file,
        }

    def notes(self) -> list[str]:
        """What a reader of the report should know about the bindings (empty when all is as it should be)."""
        notes: list[str] = []
        if self.warnings:
            notes.append(
                "importing pynvml warned (" + "; ".join(self.warnings) + "); the warning was caught, "
                "so it neither stops GPU metering under -W error nor shows in the run"
            )
        shim = self.installed.get("pynvml")
        if self.package == "pynvml":
            notes.append(
                f"the pynvml module comes from the pynvml package {self.version} (the community bindings, "
                f"deprecated); NVIDIA's own bindings replace it: {INSTALL_HINT}"
            )
        elif shim is not None and self.package is not None:
            notes.append(
                f"the deprecated pynvml package {shim} is installed beside {self.package}; it adds only a "
                "warning on import (pip uninstall pynvml removes it, where nothing else needs it)"
            )
        if self.package is None:
            where = f" at {self.file}" if self.file else ""
            notes.append(f"the pynvml module{where} belongs to no known package (nvidia-ml-py expected)")
        return notes


def installed_bindings() -> dict[str, str]:
    """The packages of ``BINDINGS`` installed here, and their versions (metadata only; nothing is imported)."""
    from importlib import metadata

    found: dict[str, str] = {}
    for name in BINDINGS:
        try:
            found[name] = metadata.version(name)
        except Exception:  # not installed, or unreadable metadata: informative only
            continue
    return found


def _provider(module_file: str | None, installed: Mapping[str, str]) -> str | None:
    """The installed package whose files hold ``module_file``, or None."""
    if not module_file:
        return None
    from importlib import metadata

    target = os.path.realpath(module_file)
    for name in installed:
        try:
            dist = metadata.distribution(name)
            for entry in dist.files or ():
                if str(entry) in ("pynvml.py", "pynvml/__init__.py") and (
                    os.path.realpath(str(dist.locate_file(entry))) == target
                ):
                    return name
        except Exception:  # a broken RECORD: look at the next package
            continue
    return None


def import_bindings() -> tuple[Any, Bindings]:
    """Import the ``pynvml`` module with every warning caught, and say where it came from.

    The deprecated ``pynvml`` package warns on that import (a ``FutureWarning``, from a finder
    its ``.pth`` file installs); under ``-W error`` the warning would be raised as an exception.
    Here it is recorded instead, whatever the filters say. ``ImportError`` passes through.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module("pynvml")
    said: list[str] = []
    for warning in caught:
        text = f"{warning.category.__name__}: {warning.message}"
        if text not in said:
            said.append(text)
    installed = installed_bindings()
    module_file = getattr(module, "__file__", None)
    package = _provider(module_file, installed)
    return module, Bindings(
        package,
        installed.get(package) if package else None,
        installed,
        said,
        None if package else module_file,
    )


def _cuda_version(value: Any) -> str | None:
    """NVML's CUDA driver version (e.g. 12040) as text ("12.4")."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return f"{number // 1000}.{number % 1000 // 10}"


class Visible(NamedTuple):
    """Which NVML indices ``CUDA_VISIBLE_DEVICES`` leaves visible, and what was ignored."""

    indices: list[int]
    notes: list[str]


def visible_devices(environ: Mapping[str, str], uuids: list[str]) -> Visible:
    """Apply ``CUDA_VISIBLE_DEVICES`` (indices or UUID prefixes) to the GPUs NVML lists.

    As CUDA does, an entry that names no GPU hides it and every entry after it. Indices are
    NVML's (PCI bus) order, which is CUDA's when ``CUDA_DEVICE_ORDER=PCI_BUS_ID``.
    """
    raw = environ.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return Visible(list(range(len(uuids))), [])
    if raw.strip() == "":
        return Visible([], ["CUDA_VISIBLE_DEVICES is empty: no GPU is visible"])
    chosen: list[int] = []
    notes: list[str] = []
    for entry in (e.strip() for e in raw.split(",")):
        index: int | None = None
        if entry.lstrip("-").isdigit():
            number = int(entry)
            if 0 <= number < len(uuids):
                index = number
        elif entry.upper().startswith("GPU-"):
            matches = [i for i, u in enumerate(uuids) if u.lower().startswith(entry.lower())]
            if len(matches) == 1:
                index = matches[0]
        if index is None:
            why = "a MIG instance, whose energy NVML does not count apart" if entry.startswith("MIG-") else ""
            notes.append(
                f"CUDA_VISIBLE_DEVICES entry {entry!r} names no GPU here{' (' + why + ')' if why else ''}: "
                "it and the entries after it are ignored, as CUDA does"
            )
            break
        if index in chosen:
            notes.append(f"CUDA_VISIBLE_DEVICES names GPU {index} twice: counted once")
            continue
        chosen.append(index)
    return Visible(chosen, notes)


class Gpu:
    """One visible GPU and its reading state."""

    __slots__ = ("dropped", "floor", "handle", "index", "last_mj", "last_power_mw", "mode", "name", "uuid")

    def __init__(self, index: int, uuid: str, name: str, handle: Any, *, floor: IdleFloor | None = None) -> None:
        self.index = index
        self.uuid = uuid
        self.name = name
        self.handle = handle
        self.mode = "energy"  # "energy" (counter) or "power" (sampled and integrated)
        self.last_mj = 0
        self.last_power_mw = 0.0
        self.dropped = 0
        self.floor = floor if floor is not None else IdleFloor()


class NvmlProbe(Probe):
    """Measured GPU energy per visible NVIDIA GPU."""

    name = "nvml"
    components = ("gpu",)
    measured = True

    def __init__(
        self,
        module: Any = None,
        environ: Mapping[str, str] | None = None,
        *,
        proc_root: str = "/proc",
        idle_power_w: float | None = None,
        required: bool = False,
    ) -> None:
        self._module = module
        self._required = required
        self._driver_seen = True  # a module handed to the probe stands for a driver
        #: where the module came from (None: it was handed to the probe)
        self.bindings: Bindings | None = None
        #: the driver's, NVML's and CUDA's versions, as NVML gives them (None: not known)
        self.versions: dict[str, str | None] = {"driver": None, "nvml": None, "cuda_driver": None}
        self._environ = dict(os.environ if environ is None else environ)
        self._proc_root = proc_root
        self._idle_hint_w = idle_power_w
        self.gpus: list[Gpu] = []
        self.notes: list[str] = []
        self._initialised = False
        self._last_ns = 0

    # ---- NVML boundary: every foreign exception becomes a ProbeError here

    def _load(self) -> Any:
        if self._module is not None:
            return self._module
        # without a sign of a driver the module is not even imported, unless NVML was asked for by
        # name (the library may be where the cheap look does not see it)
        possible = self._driver_seen = nvml_possible(self._proc_root)
        if not possible and not self._required:
            raise NotPresent(NO_DRIVER)
        try:
            module, self.bindings = import_bindings()
        except ImportError:
            if not possible:
                raise NotPresent(NO_DRIVER) from None
            raise ProbeError(
                "NVML: an NVIDIA driver is here but the pynvml module is not installed; "
                f"install it with: {INSTALL_HINT}"
            ) from None
        except Exception as err:  # a broken installation must not break the run
            raise ProbeError(f"NVML: importing the pynvml module failed ({type(err).__name__}: {err})") from None
        self._module = module
        return module

    def _read_versions(self, nvml: Any) -> None:
        def call(name: str) -> Any:
            try:
                return getattr(nvml, name)()
            except Exception:  # informative only: an old driver or bindings without the call
                return None

        driver, nvml_version = call("nvmlSystemGetDriverVersion"), call("nvmlSystemGetNVMLVersion")
        self.versions = {
            "driver": None if driver is None else _text(driver),
            "nvml": None if nvml_version is None else _text(nvml_version),
            "cuda_driver": _cuda_version(call("nvmlSystemGetCudaDriverVersion")),
        }

    def _not_supported(self, err: BaseException) -> bool:
        code = getattr(self._module, "NVML_ERROR_NOT_SUPPORTED", NVML_ERROR_NOT_SUPPORTED)
        return getattr(err, "value", None) == code

    def _error_type(self) -> type[BaseException]:
        err = getattr(self._module, "NVMLError", None)
        return err if isinstance(err, type) and issubclass(err, BaseException) else Exception

    # ---- lifecycle

    def start(self) -> None:
        """Initialise NVML, find the visible GPUs and take the first reading."""
        nvml = self._load()
        nvml_error = self._error_type()
        try:
            nvml.nvmlInit()
        except nvml_error as err:
            if not self._driver_seen:
                raise NotPresent(f"{NO_DRIVER}; NVML cannot initialise: {_text(err)}") from None
            raise ProbeError(
                f"NVML: cannot initialise ({_text(err)}); check that the NVIDIA driver is loaded "
                "(nvidia-smi should list the GPUs)"
            ) from None
        self._initialised = True
        try:
            self._read_versions(nvml)
            self._find_gpus(nvml, nvml_error)
        except BaseException:
            self.close()
            raise
        self._last_ns = time.perf_counter_ns()

    def _find_gpus(self, nvml: Any, nvml_error: type[BaseException]) -> None:
        try:
            count = int(nvml.nvmlDeviceGetCount())
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
        except nvml_error as err:
            raise ProbeError(f"NVML: cannot list the GPUs: {_text(err)}") from None
        visible = visible_devices(self._environ, uuids)
        self.notes = list(visible.notes)
        for index in visible.indices:
            handle = handles[index]
            try:
                name = _text(nvml.nvmlDeviceGetName(handle))
            except nvml_error:
                name = "NVIDIA GPU"
            gpu = Gpu(index, uuids[index], name, handle, floor=IdleFloor(self._share_hint(len(visible.indices))))
            try:
                gpu.last_mj = int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
            except nvml_error as err:
                if not self._not_supported(err):
                    raise ProbeError(f"NVML: GPU {index} ({name}): energy counter: {_text(err)}") from None
                gpu.mode = "power"
                try:
                    gpu.last_power_mw = float(nvml.nvmlDeviceGetPowerUsage(handle))
                except nvml_error as perr:
                    if self._not_supported(perr):
                        self.notes.append(f"GPU {index} ({name}) reports neither energy nor power: left out")
                        continue
                    raise ProbeError(f"NVML: GPU {index} ({name}): power: {_text(perr)}") from None
                self.notes.append(
                    f"GPU {index} ({name}) has no energy counter: its power is sampled at each read "
                    "and integrated (trapezoid rule)"
                )
            self.gpus.append(gpu)
        if not self.gpus:
            raise NotPresent("NVML: no visible GPU to measure" + (f" ({self.notes[0]})" if self.notes else ""))

    def _share_hint(self, count: int) -> float | None:
        if self._idle_hint_w is None or count <= 0:
            return None
        return self._idle_hint_w / count

    def close(self) -> None:
        """Shut NVML down (once)."""
        if not self._initialised:
            return
        self._initialised = False
        try:
            self._module.nvmlShutdown()
        except Exception:  # shutting down must never break the run
            return

    # ---- reading

    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        """GPU energy since the previous read, all visible GPUs together."""
        if not self._initialised:
            raise ProbeError("NVML: read() before start() or after close()")
        nvml = self._module
        nvml_error = self._error_type()
        now_ns = time.perf_counter_ns()
        duration_s = load.duration_s if load.duration_s > 0 else max((now_ns - self._last_ns) / 1e9, 0.0)
        self._last_ns = now_ns
        static_uj = dynamic_uj = 0
        for gpu in self.gpus:
            try:
                if gpu.mode == "energy":
                    now_mj = int(nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle))
                    delta_mj = now_mj - gpu.last_mj
                    gpu.last_mj = now_mj
                    if delta_mj < 0:  # the driver was reloaded: the counter started again
                        gpu.dropped += 1
                        continue
                    energy_uj = delta_mj * 1000
                else:
                    power_mw = float(nvml.nvmlDeviceGetPowerUsage(gpu.handle))
                    energy_uj = max(0, round((gpu.last_power_mw + power_mw) / 2 * duration_s * 1000))
                    gpu.last_power_mw = power_mw
            except nvml_error as err:
                raise ProbeError(
                    f"NVML: reading GPU {gpu.index} ({gpu.name}) failed: {_text(err)}; "
                    "GPU energy from here on is missing"
                ) from None
            gpu.floor.observe(energy_uj / 1e6, duration_s)
            s_uj = gpu.floor.static_uj(energy_uj, duration_s)
            static_uj += s_uj
            dynamic_uj += energy_uj - s_uj
        return [ComponentEnergy("gpu", static_uj / 1e6, dynamic_uj / 1e6, True, self.name)]

    def describe(self) -> dict[str, Any]:
        """The GPUs read, how, which bindings and versions, and what was left out."""
        notes = list(self.notes)
        if self.bindings is not None:
            notes += self.bindings.notes()
        for gpu in self.gpus:
            if gpu.dropped:
                notes.append(
                    f"GPU {gpu.index}: the energy counter went backwards {gpu.dropped} time(s) (driver "
                    "reloaded?); those intervals were left out"
                )
        notes.append(
            "static energy: the lowest average power seen over any interval of the session, per GPU; "
            "GPU energy is charged to tests by wall time"
        )
        return {
            "name": self.name,
            "components": ["gpu"],
            "measured": True,
            "inputs": {
                "gpus": [
                    {
                        "index": g.index,
                        "uuid": g.uuid,
                        "name": g.name,
                        "source": "total energy counter" if g.mode == "energy" else "sampled power",
                        "idle_power_w": g.floor.idle_power_w,
                    }
                    for g in self.gpus
                ],
                "cuda_visible_devices": self._environ.get("CUDA_VISIBLE_DEVICES"),
                "bindings": self.bindings.as_dict() if self.bindings is not None else {"module": "given"},
                "driver_version": self.versions["driver"],
                "nvml_version": self.versions["nvml"],
                "cuda_driver_version": self.versions["cuda_driver"],
            },
            "notes": notes,
        }
