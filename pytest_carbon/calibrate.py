"""A fixed calibration workload: how fast this machine runs Python right now.

The gate compares CPU time between runs. When a neighbour loads the machine, its caches or its
CPU's other hyperthread, or when the CPU's clock drops, every test of the run takes more CPU
time for the same work. The plugin times this workload (pure Python that does not depend on the
code under test; a sample of about 0.7 ms) every 0.2 s of the session, between tests and outside
their windows; dividing a test's CPU time by the run's calibration time removes the machine's share of
the change. A change in the code shows against the calibration; a slower machine does not.

Nothing here imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

#: the calibration's CPU time on the machine the reference figures were defined on (seconds): a
#: test's reference CPU time is ``cpu_time_s * NOMINAL_S / calibration_s``. A calibration's figure
#: is always given for ``WORKLOAD_ROUNDS`` passes of the workload (about 2 ms), whatever a sample ran.
NOMINAL_S = 0.002
WORKLOAD_ROUNDS = 15
#: passes of the workload in one sample (about 0.7 ms), and the wall time between samples
SAMPLE_ROUNDS = 5
INTERVAL_S = 0.2
#: samples a run takes at least (the missing ones at its end)
MIN_SAMPLES = 10
#: how a run's figure is made from its samples; runs whose methods differ are not compared
METHOD = "trimmed-mean"
#: share of the samples left out at each end before the mean
TRIM = 0.1

_clock = getattr(time, "thread_time_ns", time.process_time_ns)


def _work() -> int:
    """The workload: integer arithmetic, a dict, a list sort and string building (what tests do)."""
    acc = 0
    table: dict[int, int] = {}
    for i in range(1200):
        acc = (acc * 31 + i) % 1000003
        table[i % 97] = acc
    items = [(acc * k) % 9973 for k in range(400)]
    items.sort()
    text = "-".join(str(v) for v in items[:200])
    return acc + len(table) + len(text)


def measure(rounds: int = SAMPLE_ROUNDS) -> float:
    """One sample: CPU seconds of ``rounds`` passes of the workload (this thread only), per ``WORKLOAD_ROUNDS``."""
    start = _clock()
    for _ in range(rounds):
        _work()
    spent = _clock() - start
    return spent * (WORKLOAD_ROUNDS / rounds) / 1e9


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values): one helper for the calibration, the gate and the budgets."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def trimmed_mean(values: Sequence[float], trim: float = TRIM) -> float:
    """The mean of the values without the ``trim`` share at each end (0.0 for no values)."""
    ordered = sorted(values)
    cut = int(len(ordered) * trim)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return sum(kept) / len(kept) if kept else 0.0


def summarise(samples: Sequence[float]) -> dict[str, float | int | str]:
    """The run's calibration: the trimmed mean of its samples.

    The mean, not the quickest or the median: a test's CPU time grows with the share of its run
    that a neighbour slowed, and so does the mean of samples spread over the run (the quickest
    sample, or the median of a few, sees an unloaded machine or a loaded one, not the share).
    ``spread`` is the interquartile range over the median, a measure of how steady the machine was.
    """
    values = sorted(s for s in samples if s > 0)
    if not values:
        return {"cpu_s": 0.0, "samples": 0, "spread": 0.0, "method": METHOD}
    n = len(values)
    low = values[(n - 1) // 4]
    high = values[(3 * (n - 1) + 3) // 4] if n > 1 else values[0]
    middle = median(values)
    return {
        "cpu_s": trimmed_mean(values),
        "samples": n,
        "spread": (high - low) / middle if middle > 0 else 0.0,
        "method": METHOD,
    }
