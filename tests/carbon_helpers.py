"""Deterministic probes and inner-conftest text shared by the plugin tests."""

from __future__ import annotations

import time

from pytest_carbon.probes.base import ComponentEnergy, MachineLoad, Probe

#: a conftest for inner pytest sessions: a fixed-power probe supplied through the plugin's hook
FIXED_PROBE_CONFTEST = '''
import pytest

from pytest_carbon.probes.base import ComponentEnergy, Probe


class FixedProbe(Probe):
    """10 W idle CPU, 20 W per busy thread, 2 W of memory."""

    name = "fixed"
    components = ("cpu", "ram")
    measured = False

    def read(self, load):
        return [
            ComponentEnergy("cpu", 10.0 * load.duration_s, 20.0 * load.cpu_busy_s, False, self.name),
            ComponentEnergy("ram", 2.0 * load.duration_s, 0.0, False, self.name),
        ]

    def describe(self):
        return {"name": self.name, "components": ["cpu", "ram"], "measured": False,
                "inputs": {"idle_w": 10.0, "w_per_busy_thread": 20.0, "ram_w": 2.0}, "notes": []}


@pytest.hookimpl(optionalhook=True)
def pytest_carbon_probes(config):
    return [FixedProbe()]
'''


class FixedProbe(Probe):
    """The same probe, importable by unit tests of the meter."""

    name = "fixed"
    components = ("cpu", "ram")

    def read(self, load: MachineLoad) -> list[ComponentEnergy]:
        return [
            ComponentEnergy("cpu", 10.0 * load.duration_s, 20.0 * load.cpu_busy_s, False, self.name),
            ComponentEnergy("ram", 2.0 * load.duration_s, 0.0, False, self.name),
        ]


def busy_cpu(seconds: float) -> None:
    """Spin until this process has used ``seconds`` of CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
