"""RAPL energy counters through the kernel's powercap interface (Intel, and AMD's same tree).

Zones live under ``/sys/class/powercap``: ``intel-rapl:N`` (MSR), ``intel-rapl-mmio:N`` (the
same package seen through MMIO on recent Intel parts), each with ``name``, ``energy_uj`` and
``max_energy_range_uj``, and subzones (``core``, ``uncore``, ``dram``) nested inside a package.
Only package and DRAM domains are counted: core and uncore are parts of their package, and a
package reached both through MSR and MMIO is counted once (MSR preferred). ``psys`` (the whole
platform, which includes the packages and memory) is used only when asked for, or when it is
the only zone there.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pytest_carbon.probes._common import POWERCAP_ROOT, IdleFloor, NotPresent
from pytest_carbon.probes.base import ComponentEnergy, MachineLoad, Probe, ProbeError

DEFAULT_ROOT = POWERCAP_ROOT

_TOP_ZONE = re.compile(r"^(?P<type>[a-z][a-z-]*rapl[a-z-]*):(?P<index>\d+)$")


def udev_fix(root: str = DEFAULT_ROOT) -> str:
    """The two ways to make RAPL counters readable: for this boot, and for every boot."""
    return (
        f"for this boot: sudo chmod a+r {root}/intel-rapl*/energy_uj {root}/intel-rapl*/*/energy_uj ; "
        "for every boot, put this line in /etc/udev/rules.d/99-powercap.rules: "
        'SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys/class/powercap/%k/energy_uj"'
    )


def permission_message(path: str, root: str = DEFAULT_ROOT) -> str:
    """One message naming the unreadable counter, why it is closed, and the exact fix."""
    return (
        f"RAPL: cannot read {path}: permission denied. Since CVE-2020-8694 the kernel makes RAPL "
        "energy counters readable by root only. To open them (they reveal only power, not data): "
        f"{udev_fix(root)}. Until then the CPU and memory are estimated by the power model."
    )


class RaplDomain:
    """One counted RAPL domain: a package, its DRAM, or the platform (psys)."""

    __slots__ = (
        "component",
        "dropped",
        "fd",
        "floor",
        "kind",
        "last_uj",
        "max_range_uj",
        "name",
        "path",
        "wraps",
        "zone",
    )

    def __init__(
        self, zone: str, name: str, kind: str, component: str, path: Path, max_range_uj: int | None = None
    ) -> None:
        self.zone = zone  # directory name, e.g. "intel-rapl:0" or "intel-rapl:0:1"
        self.name = name  # content of ``name``: "package-0", "dram", "psys"
        self.kind = kind  # "package", "dram" or "psys"
        self.component = component  # "cpu" or "ram"
        self.path = path  # the zone's directory
        self.max_range_uj = max_range_uj
        # session state
        self.fd = -1
        self.last_uj = 0
        self.wraps = 0
        self.dropped = 0
        self.floor = IdleFloor()

    @property
    def label(self) -> str:
        """Human name, e.g. "package-0" or "package-0/dram"."""
        return self.name


class Discovery(NamedTuple):
    """What ``discover`` found: the domains to count, and why the others were left out."""

    root: str
    domains: list[RaplDomain]
    notes: list[str]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except (OSError, ValueError):
        return None


def _read_range(path: Path) -> int | None:
    text = _read_text(path / "max_energy_range_uj")
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None


def _kind(name: str) -> str | None:
    if name.startswith("package"):
        return "package"
    if name == "dram" or name.startswith("dram"):
        return "dram"
    if name == "psys":
        return "psys"
    return None


def _subzones(zone_dir: Path, zone: str) -> list[Path]:
    prefix = zone + ":"
    try:
        names = os.listdir(zone_dir)
    except OSError:
        return []
    subs = [n for n in names if n.startswith(prefix) and n[len(prefix) :].isdigit()]
    subs.sort(key=lambda n: int(n[len(prefix) :]))
    return [zone_dir / n for n in subs]


def discover(root: str | os.PathLike[str] | None = None, *, psys: bool = False) -> Discovery:
    """Find the package and DRAM domains under ``root`` (default /sys/class/powercap)."""
    root_text = str(root) if root else DEFAULT_ROOT
    base = Path(root_text)
    notes: list[str] = []
    try:
        entries = os.listdir(base)
    except FileNotFoundError:
        return Discovery(root_text, [], [f"{root_text} does not exist: no powercap interface here"])
    except OSError as err:
        return Discovery(root_text, [], [f"{root_text} cannot be listed: {err.strerror or err}"])

    tops: list[tuple[int, int, str]] = []
    for entry in entries:
        match = _TOP_ZONE.match(entry)
        if match:
            msr_first = 0 if match["type"] == "intel-rapl" else 1
            tops.append((msr_first, int(match["index"]), entry))
    tops.sort()

    counted: dict[str, RaplDomain] = {}  # key: "package-0", "package-0/dram", "psys"
    platform: list[RaplDomain] = []
    for _, _, zone in tops:
        zone_dir = base / zone
        name = _read_text(zone_dir / "name")
        if name is None:
            notes.append(f"{zone}: no readable name, left out")
            continue
        kind = _kind(name)
        if kind is None:
            notes.append(f"{zone} ({name}): not a package, DRAM or platform domain, left out")
            continue
        if kind == "psys":
            platform.append(RaplDomain(zone, name, "psys", "cpu", zone_dir, _read_range(zone_dir)))
            continue
        key = name if kind == "package" else f"{name}@{zone}"
        if key in counted:
            notes.append(f"{zone} ({name}) is the same domain as {counted[key].zone}: counted once")
            continue
        component = "cpu" if kind == "package" else "ram"
        counted[key] = RaplDomain(zone, name, kind, component, zone_dir, _read_range(zone_dir))
        if kind != "package":
            continue
        for sub_dir in _subzones(zone_dir, zone):
            sub_name = _read_text(sub_dir / "name")
            if sub_name is not None and _kind(sub_name) == "dram":
                sub_key = f"{name}/dram"
                if sub_key in counted:
                    notes.append(
                        f"{sub_dir.name} ({name}/dram) is the same domain as {counted[sub_key].zone}: counted once"
                    )
                    continue
                counted[sub_key] = RaplDomain(sub_dir.name, sub_key, "dram", "ram", sub_dir, _read_range(sub_dir))
            elif sub_name is not None:
                notes.append(f"{sub_dir.name} ({sub_name}) is part of {name}: not counted again")

    domains = list(counted.values())
    if platform and (psys or not domains):
        why = "asked for" if psys else "the only RAPL zone here"
        notes.append(
            f"{platform[0].zone} (psys, the whole platform: packages, memory and more) is used ({why}); "
            "it is reported as cpu"
        )
        return Discovery(root_text, platform[:1], notes)
    if platform:
        notes.append(
            f"{platform[0].zone} (psys) includes the packages and memory: left out to count nothing twice "
            "(set carbon_rapl_psys to use it instead)"
        )
    return Discovery(root_text, domains, notes)


class RaplProbe(Probe):
    """Measured CPU (packages) and memory (DRAM) energy from RAPL counters."""

    name = "rapl"
    measured = True

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        psys: bool = False,
        idle_power_w: Mapping[str, float] | None = None,
    ) -> None:
        self.root = str(root) if root else DEFAULT_ROOT
        self.psys = psys
        self.idle_power_w = dict(idle_power_w or {})
        self.domains: list[RaplDomain] = []
        self.notes: list[str] = []
        self.components = ()
        self._last_ns = 0
        self._started = False

    # ---- lifecycle

    def start(self) -> None:
        """Discover the domains, open their counters and take the first reading."""
        found = discover(self.root, psys=self.psys)
        self.notes = list(found.notes)
        if not found.domains:
            raise NotPresent(
                f"RAPL: no package or DRAM energy counters under {self.root} "
                "(virtual machines and most CI runners have none); the power model is used instead"
            )
        self.domains = found.domains
        per_component: dict[str, int] = {}
        for domain in self.domains:
            per_component[domain.component] = per_component.get(domain.component, 0) + 1
        for domain in self.domains:
            hint = self.idle_power_w.get(domain.component)
            share = hint / per_component[domain.component] if hint is not None else None
            domain.floor = IdleFloor(share)
            if domain.max_range_uj is None:
                self.notes.append(
                    f"{domain.zone}: max_energy_range_uj is missing or unreadable, so a wrap of this "
                    "counter cannot be corrected: such an interval is left out and counted here"
                )
        try:
            for domain in self.domains:
                path = domain.path / "energy_uj"
                try:
                    domain.fd = os.open(path, os.O_RDONLY)
                except PermissionError:
                    raise ProbeError(permission_message(str(path), self.root)) from None
                except OSError as err:
                    raise ProbeError(f"RAPL: cannot open {path}: {err.strerror or err}") from None
                domain.last_uj = self._read_uj(domain)
        except ProbeError:
            self.close()
            raise
        covers = {d.component for d in self.domains}
        if any(d.kind == "psys" for d in self.domains):
            covers.add("ram")
        self.components = tuple(c for c in ("cpu", "ram") if c in covers)
        self._last_ns = time.perf_counter_ns()
        self._started = True

    def close(self) -> None:
        """Close the counter files."""
        for domain in self.domains:
            if domain.fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(domain.fd)
                domain.fd = -1
        self._started = False

    # ---- reading

    @staticmethod
    def _read_uj(domain: RaplDomain) -> int:
        """One counter reading, in microjoules; ProbeError when it cannot be read."""
        path = domain.path / "energy_uj"
        for _ in range(3):
            try:
                raw = os.pread(domain.fd, 32, 0)
            except PermissionError:
                raise ProbeError(permission_message(str(path))) from None
            except OSError as err:
                raise ProbeError(f"RAPL: cannot read {path}: {err.strerror or err}") from None
            line = raw.split(b"\n", 1)[0]
            try:
                return int(line)
            except ValueError:
                continue  # a torn or empty read: try again
        raise ProbeError(f"RAPL: {path} does not hold a number (read {raw[:32]!r})")

    def read_all_uj(self) -> list[int]:
        """Raw counter values of every domain, in microjoules (the benchmark's unit of work)."""
        return [self._read_uj(d) for d in self.domains]

    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        """Energy per component since the previous read, split into static and dynamic."""
        if not self._started:
            raise ProbeError("RAPL: read() before start()")
        now_ns = time.perf_counter_ns()
        # the sampler's interval is the one the energy is attributed over; own clock as a fallback
        duration_s = load.duration_s if load.duration_s > 0 else max((now_ns - self._last_ns) / 1e9, 0.0)
        self._last_ns = now_ns
        static_uj: dict[str, int] = {}
        dynamic_uj: dict[str, int] = {}
        for domain in self.domains:
            value = self._read_uj(domain)
            delta = value - domain.last_uj
            domain.last_uj = value
            if delta < 0:
                if domain.max_range_uj is None:
                    domain.dropped += 1  # never invent a figure for it
                    continue
                delta += domain.max_range_uj
                domain.wraps += 1
            domain.floor.observe(delta / 1e6, duration_s)
            s_uj = domain.floor.static_uj(delta, duration_s)
            static_uj[domain.component] = static_uj.get(domain.component, 0) + s_uj
            dynamic_uj[domain.component] = dynamic_uj.get(domain.component, 0) + (delta - s_uj)
        out = []
        for component in ("cpu", "ram"):
            if component in static_uj:
                out.append(
                    ComponentEnergy(
                        component=component,
                        static_j=static_uj[component] / 1e6,
                        dynamic_j=dynamic_uj[component] / 1e6,
                        measured=True,
                        probe=self.name,
                    )
                )
        return out

    def describe(self) -> dict[str, Any]:
        """Domains, their ranges, wraps corrected and intervals left out."""
        notes = list(self.notes)
        for domain in self.domains:
            if domain.dropped:
                notes.append(
                    f"{domain.zone} ({domain.label}): the counter went backwards {domain.dropped} time(s) "
                    "with no known range; those intervals were left out (energy under-counted)"
                )
        idle: dict[str, float] = {}
        for domain in self.domains:
            idle_w = domain.floor.idle_power_w
            if idle_w is not None:
                idle[domain.label] = round(idle_w, 4)
        notes.append(
            "static energy: the lowest average power seen over any interval of the session, per domain"
            + (" (capped by the power model's idle power)" if self.idle_power_w else "")
        )
        return {
            "name": self.name,
            "components": list(self.components),
            "measured": True,
            "inputs": {
                "root": self.root,
                "domains": [
                    {
                        "zone": d.zone,
                        "name": d.label,
                        "component": d.component,
                        "max_energy_range_uj": d.max_range_uj,
                        "wraps": d.wraps,
                        "dropped_intervals": d.dropped,
                    }
                    for d in self.domains
                ],
                "idle_power_w": idle,
            },
            "notes": notes,
        }
