"""The power model: a machine's wall power from its CPU, sockets, threads, memory, generation and load.

The coefficients come from ``pytest_carbon/data/power_model.json``, written by
``tools/fit_power_model.py`` (see docs/method.md, "The power model"). Each class of machine is
modelled for what it is:

* a **server** follows a form fitted on measured SPECpower wall power. At idle and at full load

      P = exp(v [AMD]) (k e^(yk dY) + c e^(yc dY) sockets TDP + r e^(yr dY) RAM + h threads + g sockets)

  with k, c, r, h, g >= 0, so power never falls when sockets, TDP, memory or threads grow; dY is
  the hardware's release year from the reference year, held inside the calibration's years.
  Idle is at least a platform floor per socket; full load at most a ceiling of TDP x sockets plus
  memory and platform; between idle and full load the power follows the measured load curve.
* a **laptop**, an **Apple** machine or a **desktop** has no SPECpower row: its CPU draws a cited
  fraction of its TDP at each load (Teads ratios), a desktop adds its memory.
* a **virtual machine** is its share (vCPUs over host threads) of a host whose CPU, sockets,
  threads and memory come from the cloud instance table, or from the CPU facts table.

Every figure carries a relative error band (P50 and P90) from validation on data the fit did
not see, and notes saying what was assumed, clamped or extrapolated.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any, NamedTuple

from pytest_carbon.errors import ModelInputError as ModelInputError
from pytest_carbon.probes.bands import Band
from pytest_carbon.probes.base import ComponentEnergy, MachineLoad, Probe, ProbeError
from pytest_carbon.probes.cpuinfo import MachineSpec, this_machine
from pytest_carbon.probes.tdp import CloudHost, cloud_host, cpu_facts, lookup

MODEL_FILE = "power_model.json"
VALID_COMPONENTS = ("cpu", "ram")
CLASSES = ("server", "desktop", "laptop", "apple", "vm")
_CORES_IN_NAME = re.compile(r"\b(\d+)-cores?\b", re.IGNORECASE)


@functools.cache
def _class_patterns() -> tuple[re.Pattern[str], ...]:
    # compiled on first use, not at import (the plugin imports this module at start-up)
    return (
        re.compile(r"^apple\b", re.IGNORECASE),
        re.compile(r"\b(?:xeon|epyc|opteron|graviton|neoverse|ampere|altra|axion)\b", re.IGNORECASE),
        # Intel mobile suffixes (U, Y, H, HK, HX, HS, G1-G7, P, M) and AMD's (U, H, HS, HX)
        re.compile(
            r"\b(?:core|ryzen|pentium|celeron|core\s+ultra)\b.*?\d{3,5}(?:u|y|h|hk|hq|hx|hs|g\d|p|m|mx|qm|mq)\b",
            re.IGNORECASE,
        ),
        re.compile(r"\b(?:core|ryzen|pentium|celeron|athlon|phenom)\b", re.IGNORECASE),
    )


class Estimate(NamedTuple):
    """Modelled wall power of a machine at one load, in watts."""

    cpu_w: float  # everything but memory: CPU, board, fans, disks, power-supply losses
    ram_w: float
    total_w: float  # whole machine, what a meter at the plug shows
    idle_w: float  # total at zero load
    tdp_w_used: float  # per socket
    tdp_source: str  # "table", "facts", "given" or "default"
    cpu_model: str = ""  # normalised
    host_share: float | None = None  # for a virtual machine: its vCPUs over the host's threads
    host_threads: int | None = None  # per host socket
    host_threads_source: str | None = None
    machine_class: str = "server"
    year: int | None = None  # the hardware's release year, as known
    year_used: int | None = None  # the year the model used (held inside the calibration's)
    vendor: str = "unknown"
    host: dict[str, Any] | None = None  # a VM's host: cpu_model, sockets, threads_per_socket, ram_gb, source
    band: Band | None = None
    notes: tuple[str, ...] = ()

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
            "class": self.machine_class,
            "year": self.year,
            "year_used": self.year_used,
            "vendor": self.vendor,
            "host": self.host,
            "band": None if self.band is None else self.band.as_dict(),
            "notes": list(self.notes),
        }


class _Coefficients:
    """The shipped model's figures (loaded once; internal, so a plain slotted class)."""

    __slots__ = ("bands", "client", "host_tdp_w", "host_threads", "server", "version", "w_per_thread")

    def __init__(self, doc: dict[str, Any]) -> None:
        self.version = str(doc["model_version"])
        self.server: dict[str, Any] = doc["server"]
        self.client: dict[str, Any] = doc["client"]
        self.w_per_thread = float(doc["default_w_per_thread"])
        self.host_tdp_w = float(doc["default_host_socket"]["tdp_w"])
        self.host_threads = int(doc["default_host_socket"]["threads"])
        self.bands = {
            name: Band(float(b["p50_pct"]), float(b["p90_pct"]), str(b["basis"])) for name, b in doc["bands"].items()
        }
        # fail now, not at the first figure, on a file that lacks a part
        for part in ("idle", "full"):
            for key in ("vendor_amd", "const_w", "const_year", "cpu_per_tdp", "cpu_year", "ram_w_per_gb"):
                float(self.server[part][key])
        if len(self.server["shape"]) < 2:
            raise ValueError("the load curve needs two points or more")
        for name in ("server", "vm", "client"):
            if name not in self.bands:
                raise KeyError(f"bands.{name}")


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
        return _Coefficients(json.loads(_model_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ProbeError(
            f"the power model's coefficients ({MODEL_FILE}) could not be read: {err}; reinstall pytest-carbon"
        ) from err


# ---------------------------------------------------------------- the arithmetic (shared with the fit)


def level_power_w(
    level: dict[str, float],
    sockets: float,
    tdp_w: float,
    ram_gb: float,
    threads: float,
    year: int,
    vendor: str,
    years: tuple[int, int] | list[int],
    year_ref: int,
) -> float:
    """Unbounded wall power at one end of the load range (idle or full load), from its coefficients."""
    d_year = min(max(year, years[0]), years[1]) - year_ref
    body = (
        level["const_w"] * math.exp(level["const_year"] * d_year)
        + level["cpu_per_tdp"] * math.exp(level["cpu_year"] * d_year) * sockets * tdp_w
        + level["ram_w_per_gb"] * math.exp(level["ram_year"] * d_year) * ram_gb
        + level["thread_w"] * threads
        + level["socket_w"] * sockets
    )
    return math.exp(level["vendor_amd"] if vendor == "amd" else 0.0) * body


def _memory_w(level: dict[str, float], ram_gb: float, year: int, vendor: str, years: Any, year_ref: int) -> float:
    d_year = min(max(year, years[0]), years[1]) - year_ref
    vendor_factor = math.exp(level["vendor_amd"] if vendor == "amd" else 0.0)
    return vendor_factor * level["ram_w_per_gb"] * math.exp(level["ram_year"] * d_year) * ram_gb


def curve(load: float, shape: list[float] | tuple[float, ...]) -> float:
    """The load curve's fraction of the way from idle to full load, linear between its points."""
    steps = len(shape) - 1
    pos = min(max(load, 0.0), 1.0) * steps
    low = min(int(pos), steps - 1)
    return shape[low] + (shape[low + 1] - shape[low]) * (pos - low)


def tdp_fraction(load: float, points: Any) -> float:
    """CPU power over TDP at ``load``, linear between the cited points (load, fraction)."""
    load = min(max(load, 0.0), 1.0)
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if load <= x1:
            return float(y0 + (y1 - y0) * (load - x0) / (x1 - x0))
    return float(points[-1][1])


def server_power_w(
    server: dict[str, Any],
    sockets: float,
    tdp_w: float,
    ram_gb: float,
    threads: float,
    year: int,
    vendor: str,
    load: float,
) -> tuple[float, float, float, list[str]]:
    """(power at ``load``, idle power, memory part at ``load``, bound notes) of a whole server."""
    years, ref = server["years"], server["year_ref"]
    idle_raw = level_power_w(server["idle"], sockets, tdp_w, ram_gb, threads, year, vendor, years, ref)
    full_raw = level_power_w(server["full"], sockets, tdp_w, ram_gb, threads, year, vendor, years, ref)
    floor = server["floor_w_per_socket"] * sockets
    ceiling = server["ceiling_factor"] * (sockets * tdp_w + server["ceiling_ram_w_per_gb"] * ram_gb) + floor
    notes: list[str] = []
    idle = max(idle_raw, floor)
    if idle_raw < floor:
        notes.append(f"idle raised to the platform floor ({server['floor_w_per_socket']:g} W per socket)")
    full = max(full_raw, idle)
    if full > ceiling:
        notes.append("full-load power held at the ceiling (TDP x sockets, memory and platform)")
        full = ceiling
        idle = min(idle, ceiling)
    newer = server.get("newer")
    if newer and year > newer["after_year"] and idle < newer["idle_fraction_floor"] * full:
        # hardware newer than the calibration idles at a larger fraction of its full load than the
        # calibration's newest did: its idle is at least the cited median fraction
        idle = newer["idle_fraction_floor"] * full
        notes.append(
            f"idle raised to {newer['idle_fraction_floor']:g} of full load, the median for hardware "
            f"from {newer['after_year']} on ({newer['source']})"
        )
    step = curve(load, server["shape"])
    total = idle + (full - idle) * step
    # the memory part: the memory term's share of the unbounded model at this load
    mem_idle = _memory_w(server["idle"], ram_gb, year, vendor, years, ref)
    mem_full = _memory_w(server["full"], ram_gb, year, vendor, years, ref)
    raw_here = idle_raw + (max(full_raw, idle_raw) - idle_raw) * step
    mem_here = mem_idle + max(0.0, mem_full - mem_idle) * step
    ram_w = total * min(1.0, mem_here / raw_here) if raw_here > 0 else 0.0
    return total, idle, ram_w, notes


# ---------------------------------------------------------------- inputs


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


def _check_extra(machine_class: object, year: object, vendor: object, host: dict[str, object]) -> None:
    if machine_class is not None and machine_class not in CLASSES:
        raise ModelInputError(f"machine_class must be one of {', '.join(CLASSES)}, got {machine_class!r}")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int) or not 1970 <= year <= 2100):
        raise ModelInputError(f"year must be a whole year between 1970 and 2100, got {year!r}")
    if vendor is not None and not isinstance(vendor, str):
        raise ModelInputError("vendor must be a string")
    for name in ("host_threads", "host_sockets"):
        value = host[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ModelInputError(f"{name} must be a whole number, 1 or more, got {value!r}")
    value = host["host_ram_gb"]
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0
    ):
        raise ModelInputError(f"host_ram_gb must be a number, 0 or more, got {value!r}")
    if host["instance"] is not None and not isinstance(host["instance"], str):
        raise ModelInputError("instance must be a string")


def vendor_of(name: str, reported: str | None = None) -> str:
    """intel, amd, apple, arm or unknown, from the CPU name or the vendor the machine reports."""
    text = f"{reported or ''} {name}".casefold()
    if "intel" in text or "xeon" in text:
        return "intel"
    if "amd" in text or "epyc" in text or "ryzen" in text or "opteron" in text:
        return "amd"
    if "apple" in text:
        return "apple"
    if any(w in text for w in ("arm", "graviton", "neoverse", "ampere", "axion")):
        return "arm"
    return "unknown"


def class_of(name: str, chassis: str | None = None) -> tuple[str, str]:
    """(class, how it was told) of a physical machine, from its DMI chassis or its CPU name."""
    if chassis in ("laptop", "desktop", "server"):
        return chassis, "DMI chassis type"
    apple, server, mobile, client = _class_patterns()
    if apple.search(name):
        return "apple", "CPU name"
    if server.search(name):
        return "server", "CPU name"
    if mobile.search(name):
        return "laptop", "CPU name (mobile part)"
    if client.search(name):
        return "desktop", "CPU name"
    return "server", "default (nothing told the class)"


def host_socket_threads(cpu_model: str | None, tdp_w: float, known: bool) -> tuple[int, str]:
    """Threads of one host socket for a VM on this CPU model, and where the figure comes from."""
    m = coefficients()
    facts = cpu_facts(cpu_model)
    if facts is not None and facts.threads:
        return facts.threads, "threads per socket in the CPU facts table"
    match = _CORES_IN_NAME.search(cpu_model or "")
    if match:
        return int(match.group(1)) * 2, "cores named in the CPU model, two threads per core"
    if not known:
        return m.host_threads, "median socket of recent calibration hardware"
    return max(1, round(tdp_w / m.w_per_thread)), f"TDP over {m.w_per_thread:g} W per thread"


# ---------------------------------------------------------------- the model


class _Machine(NamedTuple):
    cpu_model: str | None
    normal: str
    sockets: int
    threads: int
    ram_gb: float
    tdp_w: float
    tdp_source: str
    year: int | None
    vendor: str
    machine_class: str


def _physical(
    m: _Coefficients, machine: _Machine, load: float, notes: list[str]
) -> tuple[float, float, float, int | None]:
    """(total, idle, ram) of a physical machine, and the year used."""
    if machine.machine_class == "server":
        server = m.server
        lo, hi = server["years"]
        year = machine.year if machine.year is not None else hi
        if machine.year is None:
            notes.append(f"release year unknown: modelled as {hi} hardware, the calibration's newest")
        elif machine.year > hi:
            notes.append(f"hardware of {machine.year} is newer than the calibration: held at {hi}")
        elif machine.year < lo:
            notes.append(f"hardware of {machine.year} is older than the calibration: held at {lo}")
        vendor = machine.vendor
        if vendor not in ("intel", "amd"):
            notes.append(f"no calibration for vendor {vendor!r}: modelled with the Intel coefficients")
        ranges = server.get("input_ranges", {})
        outside = [
            name
            for name, value in (
                ("sockets", machine.sockets),
                ("tdp_w", machine.tdp_w),
                ("ram_gb", machine.ram_gb),
                ("threads", machine.threads),
            )
            if name in ranges and not ranges[name][0] <= value <= ranges[name][1]
        ]
        if outside:
            notes.append(
                f"{', '.join(outside)} outside the calibration's range: extrapolated linearly, "
                "bounded by the platform floor and the TDP ceiling"
            )
        total, idle, ram_w, bound_notes = server_power_w(
            server, machine.sockets, machine.tdp_w, machine.ram_gb, machine.threads, year, vendor, load
        )
        notes.extend(bound_notes)
        return total, idle, ram_w, min(max(year, lo), hi)
    client = m.client
    points = client["tdp_fraction"]
    cpu_tdp = machine.tdp_w * machine.sockets
    if machine.machine_class == "desktop":
        ram_w = client["desktop_ram_w_per_gb"] * machine.ram_gb
    else:
        ram_w = 0.0
        notes.append(client["laptop_ram_note"])
    idle = cpu_tdp * tdp_fraction(0.0, points) + ram_w
    total = cpu_tdp * tdp_fraction(load, points) + ram_w
    notes.append(f"{machine.machine_class}: CPU at {client['tdp_fraction_source']}; no platform term (not cited)")
    return total, idle, ram_w, machine.year


def _resolve_tdp(
    m: _Coefficients, cpu_model: str | None, tdp_w: float | None, per_socket_threads: float
) -> tuple[str, float, str, Any]:
    normal, table_tdp_w = lookup(cpu_model)
    facts = cpu_facts(cpu_model)
    if tdp_w is not None:
        return normal, float(tdp_w), "given", facts
    if table_tdp_w is not None:
        return normal, table_tdp_w, "table", facts
    if facts is not None and facts.tdp_w:
        return normal, facts.tdp_w, "facts", facts
    return normal, m.w_per_thread * per_socket_threads, "default", facts


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
    host_sockets: int | None = None,
    host_ram_gb: float | None = None,
    instance: str | None = None,
    machine_class: str | None = None,
    year: int | None = None,
    vendor: str | None = None,
    chassis: str | None = None,
    reported_vendor: str | None = None,
) -> Estimate:
    """Wall power of a machine (or, with ``virtual`` or ``instance``, of a VM's share of its host) at ``load``."""
    _check(cpu_model, threads, sockets, ram_gb, load, tdp_w)
    host_args = {"host_threads": host_threads, "host_sockets": host_sockets, "host_ram_gb": host_ram_gb}
    _check_extra(machine_class, year, vendor, {**host_args, "instance": instance})
    m = coefficients()
    vendor = vendor.strip().casefold() or None if vendor is not None else None
    notes: list[str] = []
    cloud: CloudHost | None = cloud_host(instance) if instance else None
    if instance and cloud is None:
        notes.append(f"instance type {instance!r} not in the cloud host table: host from the CPU facts")
    is_vm = bool(virtual) or bool(instance) or machine_class == "vm"
    if cloud is not None and not cpu_model:
        cpu_model = cloud.host_cpu
    if not is_vm:
        normal, tdp_used, source, facts = _resolve_tdp(m, cpu_model, tdp_w, threads / sockets)
        the_vendor = vendor or (facts.vendor if facts else None) or vendor_of(normal, reported_vendor)
        the_year = year if year is not None else (facts.year if facts else None)
        if machine_class is not None:
            the_class, told = machine_class, "given"
        else:
            the_class, told = class_of(normal, chassis)
        if source == "default":
            notes.append(
                f"CPU model {cpu_model or 'unknown'!r} not in the TDP table: {m.w_per_thread:g} W per thread "
                "from the calibration"
            )
        if told.startswith("default"):
            notes.append("machine class not told by the chassis or the CPU name: modelled as a server")
        machine = _Machine(
            cpu_model, normal, sockets, threads, ram_gb, tdp_used, source, the_year, the_vendor, the_class
        )
        total, idle, ram_w, year_used = _physical(m, machine, load, notes)
        band = m.bands["server" if the_class == "server" else "client"]
        if source == "default" and "server_default_tdp" in m.bands:
            band = m.bands["server_default_tdp"] if the_class == "server" else band
        return Estimate(
            total - ram_w,
            ram_w,
            total,
            idle,
            tdp_used,
            source,
            normal,
            machine_class=the_class,
            year=the_year,
            year_used=year_used,
            vendor=the_vendor,
            band=band,
            notes=tuple(notes),
        )
    # a virtual machine: its share of a host
    h_sockets = host_sockets or (cloud.host_sockets if cloud else 1)
    h_threads = host_threads or (cloud.host_threads_per_socket if cloud else None)
    threads_source = "given" if host_threads else ("cloud host table" if h_threads else None)
    normal, tdp_used, source, facts = _resolve_tdp(m, cpu_model, tdp_w, float(h_threads or threads))
    if source == "default":
        tdp_used = m.host_tdp_w
        notes.append(
            f"CPU model {cpu_model or 'unknown'!r} not in the TDP table: host socket of the calibration's "
            f"median recent server ({m.host_tdp_w:g} W)"
        )
    if h_threads is None:
        h_threads, threads_source = host_socket_threads(cpu_model, tdp_used, source != "default")
    total_threads = h_sockets * h_threads
    if threads > total_threads:
        notes.append(f"{threads} vCPUs over the host's {total_threads} threads: the host taken as the VM's size")
        h_threads = -(-threads // h_sockets)
        total_threads = threads  # the whole host, as large as the VM: its share is 1
    share = threads / total_threads
    if host_ram_gb is not None:
        h_ram, ram_source = float(host_ram_gb), "given"
    elif cloud is not None and cloud.host_ram_gb is not None:
        h_ram, ram_source = cloud.host_ram_gb, "cloud host table"
    else:
        h_ram, ram_source = ram_gb / share, "the VM's memory per vCPU, scaled to the host"
    the_vendor = vendor or (facts.vendor if facts else None) or vendor_of(normal, reported_vendor)
    the_year = year if year is not None else (facts.year if facts else None)
    host_class = "server"
    if machine_class is None or machine_class == "vm":
        guess, _ = class_of(normal)  # a VM's DMI chassis is the hypervisor's, not the host's
        host_class = guess if guess in ("apple", "laptop", "desktop") else "server"
    elif machine_class != "vm":
        host_class = machine_class
    host_machine = _Machine(
        cpu_model, normal, h_sockets, total_threads, h_ram, tdp_used, source, the_year, the_vendor, host_class
    )
    host_total, host_idle, host_ram_w, year_used = _physical(m, host_machine, load, notes)
    if cloud is not None and cloud.checked:
        notes.append(f"host table row checked: {cloud.checked}")
    notes.append(
        f"virtual machine: {threads} of the host's {total_threads} threads ({h_sockets} socket(s) of "
        f"{h_threads}, {threads_source}); host memory {h_ram:g} GB ({ram_source})"
    )
    host = {
        "cpu_model": normal,
        "sockets": h_sockets,
        "threads_per_socket": h_threads,
        "ram_gb": round(h_ram, 3),
        "class": host_class,
        "source": f"cloud host table ({cloud.instance}, {cloud.provider})"
        if cloud
        else ("CPU facts table" if facts is not None else "defaults of the calibration"),
        "total_w": round(host_total, 4),
        "idle_w": round(host_idle, 4),
    }
    ram_w = host_ram_w * share
    cpu_w = (host_total - host_ram_w) * share
    return Estimate(
        cpu_w,
        ram_w,
        cpu_w + ram_w,
        host_idle * share,
        tdp_used,
        source,
        normal,
        share,
        h_threads,
        threads_source,
        machine_class="vm",
        year=the_year,
        year_used=year_used,
        vendor=the_vendor,
        host=host,
        band=_vm_band(m, host_class, source),
        notes=tuple(notes),
    )


def _vm_band(m: _Coefficients, host_class: str, source: str) -> Band:
    if host_class != "server":
        return m.bands["client"]
    if source == "default" and "server_default_tdp" in m.bands:
        return m.bands["server_default_tdp"]
    return m.bands["vm"]


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
        self._curve: tuple[tuple[float, float], ...] | None = None

    @property
    def spec(self) -> MachineSpec:
        """The machine being modelled (detected on first use)."""
        if self._spec is None:
            self._spec = this_machine()
        return self._spec

    def _estimate(self, load: float) -> Estimate:
        s = self.spec
        instance = getattr(s, "instance_type", None)
        try:
            return estimate(
                s.cpu_model,
                max(1, s.threads),
                max(1, s.sockets),
                max(0.0, s.ram_gb),
                min(max(load, 0.0), 1.0) if math.isfinite(load) else 0.0,
                virtual=bool(s.virtual),
                instance=instance if instance and cloud_host(instance) else None,
                chassis=getattr(s, "chassis", None),
                reported_vendor=s.vendor,
            )
        except ModelInputError as err:
            raise ProbeError(f"the power model cannot describe this machine: {err}") from err

    def _points(self) -> tuple[tuple[float, float], ...]:
        # (cpu_w, ram_w) at 0, 10, ..., 100 % load: worked out once. The total is linear in load
        # between tenths in every class (the load curve's and the TDP fractions' points are
        # tenths), so interpolating them gives the model's total exactly at any load; only the
        # split between CPU and memory inside a tenth is interpolated.
        if self._curve is None:
            self._idle = self._idle or self._estimate(0.0)
            self._curve = tuple(
                (e.cpu_w, e.ram_w) for e in (self._idle, *(self._estimate(i / 10) for i in range(1, 11)))
            )
        return self._curve

    def start(self) -> None:
        """Load the coefficients and work out the machine's power at each tenth of load once."""
        coefficients()
        self._points()

    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        """Static (idle) and dynamic energy of each component over the interval."""
        points = self._points()
        u = load.cpu_load
        pos = (min(max(u, 0.0), 1.0) if math.isfinite(u) else 0.0) * 10
        low = min(int(pos), 9)
        frac = pos - low
        (cpu_a, ram_a), (cpu_b, ram_b) = points[low], points[low + 1]
        cpu_w = cpu_a + (cpu_b - cpu_a) * frac
        ram_w = ram_a + (ram_b - ram_a) * frac
        d = max(load.duration_s, 0.0)
        out: list[ComponentEnergy] = []
        for component in self.components:
            if component == "cpu":
                static_w = points[0][0]
                dynamic_w = max(0.0, cpu_w - static_w)
            else:  # memory's idle draw is static, what it draws above that at this load dynamic
                static_w = points[0][1]
                dynamic_w = max(0.0, ram_w - static_w)
            out.append(ComponentEnergy(component, static_w * d, dynamic_w * d, False, self.name))
        return out

    @property
    def band(self) -> Band:
        """The relative error band of this probe's figures."""
        idle = self._idle or self._estimate(0.0)
        return idle.band or coefficients().bands["server"]

    def describe(self) -> dict[str, Any]:
        """Inputs, band and notes for the report."""
        s = self.spec
        m = coefficients()
        idle = self._idle or self._estimate(0.0)
        notes = list(idle.notes)
        if s.virtual and s.hypervisor:
            notes.append(f"hypervisor {s.hypervisor} (by {s.virt_method})")
        elif s.virtual is None:
            notes.append("could not tell whether this is a virtual machine; modelled as a whole machine")
        band = self.band
        notes.append(f"error band: ±{band.p50_pct:g} % (P50), ±{band.p90_pct:g} % (P90); {band.basis}")
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
                "class": idle.machine_class,
                "year": idle.year,
                "year_used": idle.year_used,
                "vendor": idle.vendor,
                "host": idle.host,
            },
            "band": band.as_dict(),
            "notes": notes,
        }
