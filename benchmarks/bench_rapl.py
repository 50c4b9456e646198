"""Cost of reading every RAPL counter once, per domain, on a fake powercap tree.

Run: python benchmarks/bench_rapl.py [--packages N] [--rounds N]. The tree lives on the
local file system (tmpfs or disk), so this measures the probe's own overhead (system call,
parsing, bookkeeping); on real sysfs the kernel adds its MSR read (about a microsecond).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from powercap import build_tree

from pytest_carbon.probes.base import MachineLoad
from pytest_carbon.probes.rapl import RaplProbe


def bench(packages: int, rounds: int) -> dict[str, float]:
    """Median microseconds per domain for raw reads and for a full read() with the split."""
    with tempfile.TemporaryDirectory() as folder:
        root = build_tree(Path(folder) / "pc", packages=packages, dram=True, core=True, uncore=True)
        probe = RaplProbe(root)
        probe.start()
        load = MachineLoad(duration_s=0.5, cpu_busy_s=0.1, cpu_load=0.1, threads=2, ram_used_gb=1.0)
        n = len(probe.domains)
        raw: list[float] = []
        full: list[float] = []
        for _ in range(rounds):
            t0 = time.perf_counter_ns()
            for _ in range(100):
                probe.read_all_uj()
            t1 = time.perf_counter_ns()
            for _ in range(100):
                probe.read(load)
            t2 = time.perf_counter_ns()
            raw.append((t1 - t0) / 100 / n / 1000)
            full.append((t2 - t1) / 100 / n / 1000)
        t0 = time.perf_counter_ns()
        probe2 = RaplProbe(root)
        probe2.start()
        start_ms = (time.perf_counter_ns() - t0) / 1e6
        probe2.close()
        probe.close()
    return {
        "domains": n,
        "raw_read_us_per_domain": statistics.median(raw),
        "read_us_per_domain": statistics.median(full),
        "start_ms": start_ms,
    }


def main() -> None:
    """Print the figures for one and two packages."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    for packages in (1, 2, 4):
        r = bench(packages, args.rounds)
        print(
            f"packages={packages} domains={r['domains']:.0f} raw={r['raw_read_us_per_domain']:.2f} us/domain "
            f"read()={r['read_us_per_domain']:.2f} us/domain start={r['start_ms']:.2f} ms"
        )


if __name__ == "__main__":
    main()
