"""The power model: a machine's wall power from its CPU model, threads, sockets, memory and load.

The coefficients come from ``pytest_carbon/data/power_model.json``, written by
``tools/fit_power_model.py`` from measured SPECpower wall power (see docs/method.md, "The power
model"). For each of eleven load levels (0, 10 %, ..., 100 %) the wall power is log-linear in the
TDP of all sockets, the RAM, the threads and the sockets; between levels it is linear in load.
A virtual machine is its share of one host socket: its vCPUs over the socket's threads.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path
from typing import Any, NamedTuple

from pytest_carbon.probes.base import ComponentEnergy, MachineLoad, Probe, ProbeError
from pytest_carbon.probes.cpuinfo import MachineSpec, this_machine
from pytest_carbon.probes.tdp import lookup

MODEL_FILE = "power_model.json"
VALID_COMPONENTS = ("cpu", "ram")
_CORES_IN_NAME = re.compile(r"\b(\d+)-cores?\b", re.IGNORECASE)


class ModelInputError(ValueError):
    """An input to the power model is out of its domain; the message says which and why."""


class Estimate(NamedTuple):
    """Modelled wall power of a machine at one load, in watts."""

    cpu_w: float  # everything but memory: CPU, board, fans, disks, power-supply losses
    ram_w: float
    total_w: float  # whole machine, what a meter at the plug shows
    idle_w: float  # total at zero load
    tdp_w_used: float  # per socket
    tdp_source: str  # "table", "given" or "default"
    cpu_model: str = ""  # normalised
    host_share: float | None = None  # for a virtual machine: its vCPUs over the host socket's threads
    host_threads: int | None = None
    host_threads_source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "cpu_w": round(self.cpu_w, 4),
            "ram_w": round(self.ram_w, 4),
            "total_w": round(self.total_w, 4),
            "idle_w": round(self.idle_w, 4),
            "tdp_w_used": round(self.tdp_w_used, 3),
            "tdp_source": self.tdp_source,
            "cpu_model": self.cpu_model,
            "host_share": None if self.host_share is None else round(self.host_share, 6),
            "host_threads": self.host_threads,
            "host_threads_source": self.host_threads_source,
        }


class _Coefficients:
    """The shipped model's figures (loaded once; internal, so a plain slotted class)."""

    __slots__ = (
        "bounds",
        "coefs",
        "host_table",
        "host_tdp_w",
        "host_threads",
        "levels",
        "median_ape_pct",
        "ram_source",
        "ram_w_per_gb",
        "version",
        "w_per_thread",
    )

    def __init__(
        self,
        *,
        version: str,
        levels: tuple[float, ...],
        coefs: tuple[tuple[float, ...], ...],
        bounds: tuple[tuple[float, float], ...],
        w_per_thread: float,
        host_tdp_w: float,
        host_threads: int,
        host_table: dict[str, int],
        ram_w_per_gb: float,
        ram_source: str,
        median_ape_pct: float,
    ) -> None:
        self.version = version
        self.levels = levels
        self.coefs = coefs
        self.bounds = bounds
        self.w_per_thread = w_per_thread
        self.host_tdp_w = host_tdp_w
        self.host_threads = host_threads
        self.host_table = host_table
        self.ram_w_per_gb = ram_w_per_gb
        self.ram_source = ram_source
        self.median_ape_pct = median_ape_pct


def _model_text() -> str:
    # straight from the package folder when it is one, as the TDP table is (importlib.resources
    # costs milliseconds to import and on its first call)
    path = Path(__file__).resolve().parent.parent / "data" / MODEL_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from importlib import resources

    return resources.files("pytest_carbon.data").joinpath(MODEL_FILE).read_text(encoding="utf-8")


@functools.cache
def coefficients() -> _Coefficients:
    """The shipped model, loaded once."""
    try:
        text = _model_text()
        doc = json.loads(text)
        host = doc["default_host_socket"]
        return _Coefficients(
            version=str(doc["model_version"]),
            levels=tuple(float(v) for v in doc["levels"]),
            coefs=tuple(tuple(float(c) for c in level) for level in doc["coefficients"]),
            bounds=tuple((float(lo), float(hi)) for lo, hi in doc["feature_ranges"]),
            w_per_thread=float(doc["default_w_per_thread"]),
            host_tdp_w=float(host["tdp_w"]),
            host_threads=int(host["threads"]),
            host_table={k.casefold(): int(v) for k, v in doc["host_threads_per_socket"].items()},
            ram_w_per_gb=float(doc["ram_w_per_gb"]),
            ram_source=str(doc["ram_source"]),
            median_ape_pct=float(doc["errors"]["model"]["median_ape_pct"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ProbeError(
            f"the power model's coefficients ({MODEL_FILE}) could not be read: {err}; reinstall pytest-carbon"
        ) from err


def _level_power_w(m: _Coefficients, index: int, x: tuple[float, float, float, float]) -> float:
    c = m.coefs[index]
    return math.exp(c[0] + c[1] * x[0] + c[2] * x[1] + c[3] * x[2] + c[4] * x[3])


def wall_power_w(tdp_w: float, sockets: int, ram_gb: float, threads: int, load: float) -> tuple[float, float]:
    """(power at ``load``, power at idle) of a whole server, from the fitted curve."""
    m = coefficients()
    raw = (math.log(tdp_w * sockets), math.log(max(ram_gb, 1e-3)), math.log(threads), math.log(sockets))
    b = m.bounds
    x = (
        min(max(raw[0], b[0][0]), b[0][1]),
        min(max(raw[1], b[1][0]), b[1][1]),
        min(max(raw[2], b[2][0]), b[2][1]),
        min(max(raw[3], b[3][0]), b[3][1]),
    )
    idle_w = _level_power_w(m, 0, x)
    steps = len(m.levels) - 1
    pos = load * steps
    low = min(int(pos), steps - 1)
    frac = pos - low
    p_low = idle_w if low == 0 else _level_power_w(m, low, x)
    p_high = _level_power_w(m, low + 1, x)
    return p_low + (p_high - p_low) * frac, idle_w


def _check(cpu_model: object, threads: object, sockets: object, ram_gb: object, load: object, tdp_w: object) -> None:
    if cpu_model is not None and not isinstance(cpu_model, str):
        raise ModelInputError("cpu_model must be a string")
    for name, value in (("threads", threads), ("sockets", sockets)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelInputError(f"{name} must be a whole number, got {value!r}")
        if value < 1:
            raise ModelInputError(f"{name} must be 1 or more, got {value}")
    for name, value in (("ram_gb", ram_gb), ("load", load)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ModelInputError(f"{name} must be a number, got {value!r}")
    if ram_gb < 0:  # type: ignore[operator]
        raise ModelInputError(f"ram_gb must be 0 or more, got {ram_gb}")
    if not 0.0 <= load <= 1.0:  # type: ignore[operator]
        raise ModelInputError(f"load must be between 0 and 1 (a fraction, not a percentage), got {load}")
    if tdp_w is not None and (
        isinstance(tdp_w, bool) or not isinstance(tdp_w, (int, float)) or not math.isfinite(tdp_w) or tdp_w <= 0
    ):
        raise ModelInputError(f"tdp_w must be a positive number of watts per socket, got {tdp_w!r}")


def host_socket_threads(cpu_model: str | None, tdp_w: float, known: bool) -> tuple[int, str]:
    """Threads of one host socket for a VM on this CPU model, and where the figure comes from."""
    m = coefficients()
    if not known:
        return m.host_threads, "median socket of recent calibration hardware"
    match = _CORES_IN_NAME.search(cpu_model or "")
    if match:
        return int(match.group(1)) * 2, "cores named in the CPU model, two threads per core"
    normal, _ = lookup(cpu_model)
    found = m.host_table.get(normal.casefold())
    if found:
        return found, "threads per socket of this model in the calibration"
    return max(1, round(tdp_w / m.w_per_thread)), f"TDP over {m.w_per_thread:g} W per thread"


def estimate(
    cpu_model: str | None,
    threads: int,
    sockets: int = 1,
    ram_gb: float = 0.0,
    load: float = 0.0,
    tdp_w: float | None = None,
    *,
    virtual: bool = False,
    host_threads: int | None = None,
) -> Estimate:
    """Wall power of a machine (or, with ``virtual``, of a VM's share of its host) at ``load`` (0..1)."""
    _check(cpu_model, threads, sockets, ram_gb, load, tdp_w)
    m = coefficients()
    normal, table_tdp_w = lookup(cpu_model)
    if tdp_w is not None:
        tdp_used, source = float(tdp_w), "given"
    elif table_tdp_w is not None:
        tdp_used, source = table_tdp_w, "table"
    else:
        tdp_used, source = 0.0, "default"
    ram_w = m.ram_w_per_gb * ram_gb
    if not virtual:
        if source == "default":
            tdp_used = m.w_per_thread * threads / sockets
        total_w, idle_w = wall_power_w(tdp_used, sockets, ram_gb, threads, load)
        ram_w = min(ram_w, 0.5 * idle_w)  # the memory part of a measured total, never most of it
        return Estimate(total_w - ram_w, ram_w, total_w, idle_w, tdp_used, source, normal)
    if source == "default":
        tdp_used = m.host_tdp_w
    if host_threads is not None and host_threads >= 1:
        socket_threads, threads_source = host_threads, "given"
    else:
        socket_threads, threads_source = host_socket_threads(cpu_model, tdp_used, source != "default")
    share = threads / socket_threads
    host_ram_gb = ram_gb / share if ram_gb > 0 else 0.0
    host_w, host_idle_w = wall_power_w(tdp_used, 1, host_ram_gb, socket_threads, load)
    host_ram_w = min(m.ram_w_per_gb * host_ram_gb, 0.5 * host_idle_w)
    ram_w = host_ram_w * share
    cpu_w = (host_w - host_ram_w) * share
    idle_w = host_idle_w * share
    return Estimate(
        cpu_w, ram_w, cpu_w + ram_w, idle_w, tdp_used, source, normal, share, socket_threads, threads_source
    )


class ModelProbe(Probe):
    """Energy estimated by the power model from the sampled machine load."""

    name = "model"
    measured = False

    def __init__(self, components: tuple[str, ...] = ("cpu", "ram"), spec: MachineSpec | None = None) -> None:
        wrong = [c for c in components if c not in VALID_COMPONENTS]
        if wrong or not components:
            raise ProbeError(
                f"the power model covers only {' and '.join(VALID_COMPONENTS)}, not {', '.join(wrong) or 'nothing'}"
            )
        self.components = tuple(components)
        self._spec = spec
        self._idle: Estimate | None = None

    @property
    def spec(self) -> MachineSpec:
        """The machine being modelled (detected on first use)."""
        if self._spec is None:
            self._spec = this_machine()
        return self._spec

    def _estimate(self, load: float) -> Estimate:
        s = self.spec
        try:
            return estimate(
                s.cpu_model,
                max(1, s.threads),
                max(1, s.sockets),
                max(0.0, s.ram_gb),
                min(max(load, 0.0), 1.0) if math.isfinite(load) else 0.0,
                virtual=bool(s.virtual),
            )
        except ModelInputError as err:
            raise ProbeError(f"the power model cannot describe this machine: {err}") from err

    def start(self) -> None:
        """Load the coefficients and work out the idle power once."""
        coefficients()
        self._idle = self._estimate(0.0)

    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        """Static (idle) and dynamic energy of each component over the interval."""
        idle = self._idle if self._idle is not None else self._estimate(0.0)
        self._idle = idle
        now = self._estimate(load.cpu_load)
        d = max(load.duration_s, 0.0)
        out: list[ComponentEnergy] = []
        for component in self.components:
            if component == "cpu":
                static_w = idle.idle_w - idle.ram_w
                dynamic_w = max(0.0, now.cpu_w - static_w)
            else:
                static_w, dynamic_w = now.ram_w, 0.0
            out.append(ComponentEnergy(component, static_w * d, dynamic_w * d, False, self.name))
        return out

    def describe(self) -> dict[str, Any]:
        """Inputs and notes for the report."""
        s = self.spec
        m = coefficients()
        idle = self._idle or self._estimate(0.0)
        notes: list[str] = []
        if idle.tdp_source == "default":
            shown = s.cpu_model or "unknown"
            notes.append(
                f"CPU model {shown!r} not in the TDP table: {m.w_per_thread:g} W per thread from the calibration"
                + (", host socket of the calibration's median recent server" if s.virtual else "")
            )
        if s.virtual:
            notes.append(
                f"virtual machine ({s.hypervisor or 'hypervisor unnamed'}, by {s.virt_method}): "
                f"modelled as {s.threads} of {idle.host_threads} threads of one host socket "
                f"({idle.host_threads_source})"
            )
        elif s.virtual is None:
            notes.append("could not tell whether this is a virtual machine; modelled as a whole machine")
        if "ram" in self.components:
            notes.append(f"memory: {m.ram_w_per_gb:g} W per GB ({m.ram_source}), static")
        notes.append(f"model error on its calibration: median {m.median_ape_pct:g} % of wall power")
        return {
            "name": self.name,
            "components": list(self.components),
            "measured": False,
            "inputs": {
                "cpu_model": s.cpu_model,
                "threads": s.threads,
                "sockets": s.sockets,
                "ram_gb": s.ram_gb,
                "tdp_w": round(idle.tdp_w_used, 3),
                "tdp_source": idle.tdp_source,
                "virtual": s.virtual,
                "host_share": None if idle.host_share is None else round(idle.host_share, 6),
                "model_version": m.version,
            },
            "notes": notes,
        }
