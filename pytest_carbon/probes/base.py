"""The probe interface that every energy source implements, and its value types.

A probe knows nothing of pytest. The sampler calls ``start()`` once, then ``read(load)`` at
every sample: the probe returns the energy that its components drew since its previous read,
split into a static (idle) part and a dynamic (activity) part, for the whole machine.
The sampler, not the probe, decides how much of that belongs to the pytest process and to
each test.

The value types are named tuples: immutable, and much cheaper to define at import than frozen
dataclasses, which every metered session would pay for.
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

from pytest_carbon.errors import ProbeError as ProbeError

COMPONENTS = ("cpu", "ram", "gpu")


class MachineLoad(NamedTuple):
    """What the sampler saw of the machine over one interval."""

    duration_s: float
    #: busy CPU-seconds of the whole machine over the interval (all logical CPUs together)
    cpu_busy_s: float
    #: busy fraction of the machine's logical CPUs, 0..1
    cpu_load: float
    #: logical CPUs the load is a fraction of
    threads: int
    #: memory in use on the machine, in GB (1e9 bytes)
    ram_used_gb: float


class ComponentEnergy(NamedTuple):
    """Energy of one component over one interval, whole machine."""

    component: str  # one of COMPONENTS
    static_j: float
    dynamic_j: float
    measured: bool
    probe: str

    @property
    def energy_j(self) -> float:
        return self.static_j + self.dynamic_j


class Probe(abc.ABC):
    """One source of energy figures (a counter or a model) for one or more components."""

    #: short name used in reports ("model", "rapl", "nvml", ...)
    name: str = "probe"
    #: the components this probe covers
    components: tuple[str, ...] = ()
    #: True when the figures come from a hardware counter, False when estimated
    measured: bool = False

    def start(self) -> None:  # noqa: B027 - optional hook
        """Take the first reading; raise ProbeError when the probe cannot work here."""

    @abc.abstractmethod
    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        """Energy since the previous read (or start). Raise ProbeError when a read fails."""

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for reports: what it covers, how, from which inputs."""
        return {
            "name": self.name,
            "components": list(self.components),
            "measured": self.measured,
            "inputs": {},
            "notes": [],
        }

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release handles (files, libraries)."""
