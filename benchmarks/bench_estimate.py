"""Cost of one power-model estimate, in microseconds (``python benchmarks/bench_estimate.py``)."""

from __future__ import annotations

import timeit

from pytest_carbon.probes.base import MachineLoad
from pytest_carbon.probes.cpuinfo import MachineSpec
from pytest_carbon.probes.model import ModelProbe, estimate


def main() -> None:
    """Print microseconds per estimate for a table CPU, an unknown CPU and a VM share."""
    cases = {
        "table CPU": lambda: estimate("AMD EPYC 7763 64-Core Processor", 128, 1, 512.0, 0.37),
        "unknown CPU": lambda: estimate("Foo 9000", 8, 1, 16.0, 0.37),
        "VM share": lambda: estimate("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 4, 1, 16.0, 0.37, virtual=True),
    }
    try:
        probe = ModelProbe(
            spec=MachineSpec("AMD EPYC 7763 64-Core Processor", "AuthenticAMD", 1, 2, 4, 16.0, True, "kvm", "x")
        )
        probe.start()
        load = MachineLoad(0.5, 0.8, 0.4, 4, 8.0)
        cases["probe read (VM)"] = lambda: probe.read(load)
    except TypeError:  # an older MachineSpec
        pass
    for name, call in cases.items():
        call()  # warm the caches (coefficients, table, lookup)
        runs = 20_000
        best = min(timeit.repeat(call, number=runs, repeat=5)) / runs
        print(f"{name:16s} {best * 1e6:6.2f} us per estimate")


if __name__ == "__main__":
    main()
