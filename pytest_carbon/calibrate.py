"""A fixed calibration workload: how fast this machine runs Python right now.

The gate compares CPU time between runs. When a neighbour loads the machine, its caches or its
CPU's other hyperthread, or when the CPU's clock drops, every test of the run takes more CPU
time for the same work. The plugin times this workload (about 2 ms of pure Python that does not
depend on the code under test) a few times during the session, between tests and outside their
windows; dividing a test's CPU time by the run's calibration time removes the machine's share of
the change. A change in the code shows against the calibration; a slower machine does not.

Nothing here imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

#: the calibration's CPU time on the machine the reference figures were defined on (seconds): a
#: test's reference CPU time is ``cpu_time_s * NOMINAL_S / calibration_s``
NOMINAL_S = 0.002

_ROUNDS = 15
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


def measure(rounds: int = _ROUNDS) -> float:
    """CPU seconds of one calibration: ``rounds`` passes of the workload, this thread only.

    Timed in three parts, the quickest kept three times: a part the scheduler or an interrupt
    cut into does not count.
    """
    part = max(rounds // 3, 1)
    best = None
    for _ in range(3):
        start = _clock()
        for _ in range(part):
            _work()
        spent = _clock() - start
        best = spent if best is None or spent < best else best
    assert best is not None
    return best * (rounds / part) / 1e9


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values): one helper for the calibration, the gate and the budgets."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def summarise(samples: Sequence[float]) -> dict[str, float | int]:
    """The run's calibration: the median of its samples.

    ``spread`` is the interquartile range over the median, a measure of how steady the machine was.
    """
    values = sorted(s for s in samples if s > 0)
    if not values:
        return {"cpu_s": 0.0, "samples": 0, "spread": 0.0}
    n = len(values)
    low = values[(n - 1) // 4]
    high = values[(3 * (n - 1) + 3) // 4] if n > 1 else values[0]
    middle = median(values)
    return {"cpu_s": middle, "samples": n, "spread": (high - low) / middle if middle > 0 else 0.0}
