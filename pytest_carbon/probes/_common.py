"""What the counter probes share: the static/dynamic split, "not on this machine", cheap presence checks.

A counter measures the total energy of a domain. The static part of an interval is what the
domain would have drawn idle over it; the idle power is estimated as the lowest average power
seen over any interval of the session so far (intervals shorter than ``min_interval_s`` are too
coarse for that and are left out), optionally capped by a hint from a power model. Early in a
session the floor is still high, so the first intervals lean static; it only ever goes down.
"""

from __future__ import annotations

import math
import os

from pytest_carbon.errors import NotPresent as NotPresent

#: where the kernel's powercap interface (RAPL among it) lives
POWERCAP_ROOT = "/sys/class/powercap"


class IdleFloor:
    """Lowest average power seen so far for one domain, and the split it implies."""

    __slots__ = ("hint_w", "lowest_w", "min_interval_s")

    def __init__(self, hint_w: float | None = None, min_interval_s: float = 0.05) -> None:
        self.hint_w = hint_w if hint_w is not None and math.isfinite(hint_w) and hint_w >= 0 else None
        self.lowest_w: float | None = None
        self.min_interval_s = min_interval_s

    def observe(self, energy_j: float, duration_s: float) -> None:
        """Take one interval's average power into the floor."""
        if duration_s < self.min_interval_s or energy_j < 0:
            return
        power_w = energy_j / duration_s
        if self.lowest_w is None or power_w < self.lowest_w:
            self.lowest_w = power_w

    @property
    def idle_power_w(self) -> float | None:
        """The current idle-power estimate, or None before any usable interval."""
        candidates = [p for p in (self.lowest_w, self.hint_w) if p is not None]
        return min(candidates) if candidates else None

    def static_uj(self, energy_uj: int, duration_s: float) -> int:
        """Static share, in whole microjoules, of an interval's ``energy_uj`` (never more than it)."""
        idle_w = self.idle_power_w
        if idle_w is None or energy_uj <= 0:
            return max(energy_uj, 0)
        return min(energy_uj, max(0, round(idle_w * duration_s * 1e6)))


#: where the NVML library is installed by the NVIDIA drivers of the usual distributions
NVML_LIBRARY_PATHS = (
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
    "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib64/libnvidia-ml.so.1",
    "/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1",
    "/usr/local/nvidia/lib64/libnvidia-ml.so.1",
)


def nvml_possible(proc_root: str = "/proc", dev_root: str = "/dev") -> bool:
    """True when an NVIDIA driver could be there (a few stat calls; no library is loaded)."""
    if os.path.exists(os.path.join(proc_root, "driver", "nvidia", "version")):
        return True
    if os.path.exists(os.path.join(dev_root, "nvidiactl")):
        return True
    return any(os.path.exists(path) for path in NVML_LIBRARY_PATHS)


def rapl_possible(root: str) -> bool:
    """False when the powercap folder ``root`` cannot hold a RAPL zone (one listing; nothing is opened).

    Every top-level RAPL zone has "rapl" in its name (``intel-rapl:0``, ``intel-rapl-mmio:0``); a
    folder that cannot be listed has none that could be read either.
    """
    try:
        return any("rapl" in entry for entry in os.listdir(root))
    except OSError:
        return False
