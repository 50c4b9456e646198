"""Fake powercap trees, written as real files, the way the kernel lays them out."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path


def write_zone(
    directory: Path,
    name: str,
    energy_uj: int = 0,
    max_range_uj: int | None = 262143328850,
) -> Path:
    """One zone directory with ``name``, ``energy_uj`` and (unless None) ``max_energy_range_uj``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "name").write_text(name + "\n")
    (directory / "energy_uj").write_text(f"{energy_uj}\n")
    if max_range_uj is not None:
        (directory / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
    (directory / "enabled").write_text("1\n")
    return directory


def build_tree(
    root: Path,
    packages: int = 1,
    *,
    dram: bool = True,
    core: bool = True,
    uncore: bool = False,
    mmio: bool = False,
    psys: bool = False,
    max_range_uj: int | None = 262143328850,
    prefix: str = "intel-rapl",
) -> Path:
    """A tree like a real machine's: packages with core/uncore/dram subzones, MMIO twins, psys."""
    root.mkdir(parents=True, exist_ok=True)
    (root / prefix).mkdir(exist_ok=True)  # the control type itself, which is no zone
    for p in range(packages):
        zone = f"{prefix}:{p}"
        pkg = write_zone(root / zone, f"package-{p}", 1000 * (p + 1), max_range_uj)
        subs = []
        if core:
            subs.append("core")
        if uncore:
            subs.append("uncore")
        if dram:
            subs.append("dram")
        for i, sub in enumerate(subs):
            write_zone(pkg / f"{zone}:{i}", sub, 100 * (i + 1), max_range_uj)
    if mmio:
        for p in range(packages):
            write_zone(root / f"{prefix}-mmio:{p}", f"package-{p}", 5000, max_range_uj)
    if psys:
        write_zone(root / f"{prefix}:{packages}", "psys", 7000, max_range_uj)
    return root


def set_uj(zone_dir: Path, value: int) -> None:
    """Rewrite a counter in place (as sysfs does: same inode, so open handles see it)."""
    data = f"{value}\n".encode()
    fd = os.open(zone_dir / "energy_uj", os.O_WRONLY)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def get_uj(zone_dir: Path) -> int:
    """The counter's current value."""
    return int((zone_dir / "energy_uj").read_text().split()[0])


@dataclass
class Writer:
    """A thread that advances counters at a known power, wrapping at ``max_range_uj``."""

    zones: dict[Path, float]  # zone directory -> power in watts
    max_range_uj: int
    period_s: float = 0.002

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._values = {z: get_uj(z) for z in self.zones}
        self.written_uj = dict.fromkeys(self.zones, 0)
        self.wraps = 0
        self._lock = threading.Lock()
        self._last_ns = 0

    def start(self) -> None:
        """Begin writing."""
        self._last_ns = time.perf_counter_ns()
        self._thread.start()

    def _step(self) -> None:
        now = time.perf_counter_ns()
        dt_s = (now - self._last_ns) / 1e9
        self._last_ns = now
        with self._lock:
            for zone, power_w in self.zones.items():
                add = round(power_w * dt_s * 1e6)
                value = self._values[zone] + add
                if value >= self.max_range_uj:
                    value -= self.max_range_uj
                    self.wraps += 1
                self._values[zone] = value
                self.written_uj[zone] += add
                set_uj(zone, value)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self._step()

    def stop(self) -> int:
        """Stop writing; return the total microjoules written over all zones."""
        self._stop.set()
        self._thread.join()
        self._step()
        return sum(self.written_uj.values())
