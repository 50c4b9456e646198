"""The metering timeline: fast clocks at test boundaries, a low-rate sampler, attribution.

Nothing here imports pytest. The plugin calls ``Meter.begin_phase``/``end_phase`` around each
test phase (two fast clock reads each) and the sampler thread reads the slow things (energy
counters, machine load) every ``period_s``. Attribution happens once, at the end, per
interval between two samples:

* the interval's machine energy is split into static (idle) and dynamic parts by the probes;
* the process gets the dynamic part in proportion to its CPU time over the machine's busy CPU
  time (scope "process"), or all of it (scope "machine"), and the static part divided among the
  concurrent test processes;
* inside the process, tests get the static part by wall time and the dynamic part by CPU time
  (GPU dynamic energy by wall time, since CPU time does not follow GPU work);
* whatever falls outside every test is the remainder, so tests + remainder == session total.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import resource
import struct
import sys
import threading
import time
import types
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, overload

from pytest_carbon.probes.base import COMPONENTS, ComponentEnergy, MachineLoad, Probe, ProbeError

_perf_ns = time.perf_counter_ns
_proc_ns = time.process_time_ns
_getrusage = resource.getrusage
_CHILDREN = resource.RUSAGE_CHILDREN
_PHASE = struct.Struct("=5q")  # test index, t0, t1, c0, c1: the phases array's items, in native order


def _children_ns() -> int:
    """CPU time of this process's finished, waited-for children, in nanoseconds."""
    ru = _getrusage(_CHILDREN)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def cpu_now_ns() -> int:
    """CPU time of this process plus its finished, waited-for children, in nanoseconds."""
    return _proc_ns() + _children_ns()


# --------------------------------------------------------------------------- machine stats


def _read_proc_stat(path: str = "/proc/stat") -> tuple[float, float]:
    """Busy and total CPU-seconds of the whole machine since boot (Linux)."""
    with open(path, "rb") as fh:
        fields = fh.readline().split()
    values = [int(v) for v in fields[1:]]
    # user nice system idle iowait irq softirq steal (guest is already inside user)
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (total - idle) / tick, total / tick


def _read_meminfo(path: str = "/proc/meminfo") -> float:
    """Memory in use, GB (1e9 bytes): MemTotal - MemAvailable."""
    total = avail = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.startswith(b"MemTotal:"):
                total = int(line.split()[1])
            elif line.startswith(b"MemAvailable:"):
                avail = int(line.split()[1])
                break
    return (total - avail) * 1024 / 1e9


def _psutil_cpu() -> tuple[float, float]:
    import psutil

    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    total = sum(t)
    return total - idle, total


def _psutil_mem() -> float:
    import psutil

    vm = psutil.virtual_memory()
    return (vm.total - vm.available) / 1e9


def machine_readers() -> tuple[Callable[[], tuple[float, float]], Callable[[], float]]:
    """The cheapest readers of machine CPU time and memory on this platform."""
    if sys.platform.startswith("linux") and os.path.exists("/proc/stat"):
        return _read_proc_stat, _read_meminfo
    return _psutil_cpu, _psutil_mem


# --------------------------------------------------------------------------- timeline


class Sample:
    """One point of the timeline, and the energy of the interval that ends at it."""

    __slots__ = ("cpu_ns", "energy", "load", "wall_ns")

    def __init__(self, wall_ns: int, cpu_ns: int) -> None:
        self.wall_ns = wall_ns
        self.cpu_ns = cpu_ns
        #: component -> (static_j, dynamic_j) summed over probes for the interval ending here
        self.energy: dict[str, tuple[float, float]] = {}
        self.load: MachineLoad | None = None


class TestFigures:
    """What a test (or a group of phases) was charged."""

    __test__ = False  # not a test class, for pytest's collection
    __slots__ = ("components_j", "cpu_time_s", "duration_s", "dynamic_energy_j", "energy_j")

    def __init__(
        self,
        duration_s: float = 0.0,
        cpu_time_s: float = 0.0,
        energy_j: float = 0.0,
        dynamic_energy_j: float = 0.0,
        components_j: dict[str, float] | None = None,
    ) -> None:
        self.duration_s = duration_s
        self.cpu_time_s = cpu_time_s
        self.energy_j = energy_j
        self.dynamic_energy_j = dynamic_energy_j
        self.components_j = dict.fromkeys(COMPONENTS, 0.0) if components_j is None else components_j

    def __repr__(self) -> str:
        return (
            f"TestFigures(duration_s={self.duration_s!r}, cpu_time_s={self.cpu_time_s!r}, energy_j={self.energy_j!r}, "
            f"dynamic_energy_j={self.dynamic_energy_j!r}, components_j={self.components_j!r})"
        )


class AllFigures:
    """Every test's figures from one attribution, held by column (a list per figure).

    ``figures[i]`` is test ``i``'s ``TestFigures``; the columns are what the report reads, so a
    session of many tests builds no object per test here.
    """

    __slots__ = ("components_j", "cpu_time_s", "duration_s", "dynamic_energy_j", "energy_j")

    def __init__(self, n_tests: int) -> None:
        self.duration_s = [0.0] * n_tests
        self.cpu_time_s = [0.0] * n_tests
        self.energy_j = [0.0] * n_tests
        self.dynamic_energy_j = [0.0] * n_tests
        #: component -> one figure per test
        self.components_j: dict[str, list[float]] = {comp: [0.0] * n_tests for comp in COMPONENTS}

    def __len__(self) -> int:
        return len(self.energy_j)

    def figures(self, index: int) -> TestFigures:
        """Test ``index``'s figures as one object."""
        return TestFigures(
            self.duration_s[index],
            self.cpu_time_s[index],
            self.energy_j[index],
            self.dynamic_energy_j[index],
            {comp: column[index] for comp, column in self.components_j.items()},
        )

    @overload
    def __getitem__(self, index: int) -> TestFigures: ...

    @overload
    def __getitem__(self, index: slice) -> list[TestFigures]: ...

    def __getitem__(self, index: int | slice) -> TestFigures | list[TestFigures]:
        if isinstance(index, slice):
            return [self.figures(i) for i in range(len(self))[index]]
        return self.figures(range(len(self))[index])

    def __iter__(self) -> Iterator[TestFigures]:
        return (self.figures(i) for i in range(len(self)))

    def pop(self) -> TestFigures:
        """Remove and return the last entry (the confirmations' own bucket)."""
        fig = self.figures(len(self) - 1)
        for column in (self.duration_s, self.cpu_time_s, self.energy_j, self.dynamic_energy_j):
            column.pop()
        for column in self.components_j.values():
            column.pop()
        return fig


class Totals:
    """Process-attributed totals of the session."""

    __slots__ = (
        "components_j",
        "duration_s",
        "dynamic_components_j",
        "dynamic_j",
        "energy_j",
        "intervals",
        "machine_energy_j",
        "static_j",
    )

    def __init__(
        self,
        duration_s: float,
        energy_j: float,
        components_j: dict[str, float],
        static_j: float,
        dynamic_j: float,
        dynamic_components_j: dict[str, float],
        machine_energy_j: float,
        intervals: int,
    ) -> None:
        self.duration_s = duration_s
        self.energy_j = energy_j
        self.components_j = components_j
        self.static_j = static_j
        self.dynamic_j = dynamic_j
        self.dynamic_components_j = dynamic_components_j
        self.machine_energy_j = machine_energy_j
        self.intervals = intervals


#: one sample as ``Meter.export`` sends it: wall and CPU clocks (ns), the machine load (the fields
#: of ``MachineLoad``; None for the first sample) and component -> (static J, dynamic J)
SampleData = tuple[int, int, "tuple[float, ...] | None", dict[str, tuple[float, float]]]

#: joules per wall second and per CPU second of a test in one interval: in all, of it the dynamic
#: part, and per component (component, per wall second, per CPU second)
Rates = tuple[float, float, float, float, tuple[tuple[str, float, float], ...]]


def _rates(static: dict[str, float], dynamic: dict[str, float], wall_s: float, cpu_s: float) -> Rates:
    """What a test is charged per second of wall time and of CPU time in an interval.

    ``static``/``dynamic``: the process's energy per component over the interval; ``wall_s`` and
    ``cpu_s``: the seconds they are shared over. Static energy follows wall time, dynamic energy
    CPU time, except the GPU's, which follows wall time (CPU time does not follow GPU work).
    """
    per_wall = 1.0 / wall_s if wall_s > 0 else 0.0
    per_cpu = 1.0 / cpu_s if cpu_s > 0 else 0.0
    total_w = total_c = dyn_w = dyn_c = 0.0
    per_comp = []
    for comp, static_j in static.items():  # the same components as ``dynamic``
        a = static_j * per_wall
        d = dynamic[comp]
        if comp == "gpu":
            a += d * per_wall
            dyn_w += d * per_wall
            b = 0.0
        else:
            b = d * per_cpu
            dyn_c += b
        total_w += a
        total_c += b
        per_comp.append((comp, a, b))
    return total_w, total_c, dyn_w, dyn_c, tuple(per_comp)


class Meter:
    """Records phases and samples; attributes energy at the end."""

    def __init__(
        self,
        probes: Sequence[Probe],
        *,
        period_s: float = 0.5,
        scope: str = "process",
        processes: int = 1,
        threads: int | None = None,
        on_probe_error: Callable[[Probe, Exception], Sequence[Probe]] | None = None,
    ) -> None:
        self.probes = list(probes)
        self.period_s = period_s
        self.scope = scope
        self.processes = max(1, processes)
        self.threads = threads or os.cpu_count() or 1
        self._on_probe_error = on_probe_error
        self._read_cpu, self._read_mem = machine_readers()
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._walls: list[int] = []  # the samples' wall clocks, for bisect
        self._anchor: tuple[int, int, float] | None = None  # wall_ns, cpu_ns, machine busy_s
        self._others_busy_per_s = 0.0
        self._ram_used_gb = 0.0
        # phases: flat int64 array of (test_index, t0, t1, c0, c1) per phase
        self._phases = array("q")
        self._t0 = -1  # wall clock at the start of the open phase (-1: none open)
        self._c0 = 0  # CPU clock at the start of the open phase
        self._children = 0  # children's CPU time read last (ns)
        self._append_phase = self._phases.frombytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed_probes: dict[str, str] = {}
        #: periodic samples taken so far (the session times its calibration by them)
        self.ticks = 0

    # ---- lifecycle

    def start(self) -> None:
        """Take the first sample and start the sampler thread."""
        self.sample()
        self._thread = threading.Thread(target=self._run, name="pytest-carbon-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()
            self.ticks += 1

    def stop(self) -> None:
        """Stop the sampler and take the last sample."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.sample()

    def close(self) -> None:
        """Release every probe."""
        for probe in self.probes:
            try:
                probe.close()
            except Exception:  # closing must never break the run
                continue

    # ---- fast path, called around every test phase

    def begin_phase(self, children: bool = True) -> None:
        """Mark the start of a test phase (set-up, call or tear-down).

        ``children=False`` reuses the children's CPU time read last instead of asking the kernel
        again (the plugin reads it at the end of a test's call and at its end: children are waited
        for by the test's own code).
        """
        if children:
            self._children = _children_ns()
        self._t0 = _perf_ns()
        self._c0 = _proc_ns() + self._children

    def end_phase(self, test_index: int, children: bool = True) -> None:
        """Mark the end of the phase begun last, charging it to test ``test_index``."""
        if children:
            self._children = _children_ns()
        c1 = _proc_ns() + self._children
        t1 = _perf_ns()
        t0 = self._t0
        if t0 < 0:
            return
        self._t0 = -1
        # packed then appended as bytes: cheaper than converting five ints one by one
        self._append_phase(_PHASE.pack(test_index, t0, t1, self._c0, c1))

    def phase_count(self) -> int:
        """How many phases are recorded so far (a position for ``cpu_since``)."""
        return len(self._phases) // 5

    def cpu_since(self, position: int) -> tuple[float, float]:
        """Wall and CPU seconds of the phases recorded since ``position`` (a ``phase_count``)."""
        phases = self._phases[position * 5 :]
        wall = sum(phases[2::5]) - sum(phases[1::5])
        cpu = sum(max(c1 - c0, 0) for c0, c1 in zip(phases[3::5], phases[4::5], strict=True))
        return wall / 1e9, cpu / 1e9

    def phase_totals(self, n_tests: int) -> tuple[list[float], list[float]]:
        """Each test's wall and CPU seconds so far, from its phases (no energy: cheap, for screening)."""
        walls = [0.0] * n_tests
        cpus = [0.0] * n_tests
        phases = self._phases
        for test, t0, t1, c0, c1 in zip(
            phases[0::5], phases[1::5], phases[2::5], phases[3::5], phases[4::5], strict=True
        ):
            if 0 <= test < n_tests:
                walls[test] += (t1 - t0) / 1e9
                cpus[test] += max(c1 - c0, 0) / 1e9
        return walls, cpus

    # ---- the timeline in pieces (an xdist worker sends its own to the controller)

    def export(self, phases_from: int, samples_from: int) -> tuple[bytes, list[SampleData], int, int]:
        """The phases and samples recorded since the given positions, as plain values, and the new positions.

        Positions are a phase count and a sample count; the phases go as the packed bytes of the
        array (five 64-bit integers each, native order), each sample as a tuple that
        ``Timeline.extend`` turns back into the same sample. What ``attribute`` reads, nothing more.
        """
        phases = self._phases
        end = len(phases) // 5
        raw = phases[phases_from * 5 : end * 5].tobytes()
        with self._lock:
            samples = self._samples[samples_from:]
            count = len(self._samples)
        out: list[SampleData] = [
            (s.wall_ns, s.cpu_ns, tuple(s.load) if s.load is not None else None, s.energy) for s in samples
        ]
        return raw, out, end, count

    # ---- sampler

    def sample(self, *, machine: bool = True) -> None:
        """Read clocks and every probe; close the current interval.

        The machine's CPU and memory counters tick coarsely (10 ms), so they are read only by
        the periodic sampler (``machine=True``) or when a period has passed. The busy time of
        other processes over an interval comes from the last full period's rate; this
        process's own busy time comes from its nanosecond CPU clock. Extra samples forced by
        budgets or JUnit properties therefore cost only the probe reads.
        """
        with self._lock:
            wall = _perf_ns()
            cpu = cpu_now_ns()
            anchor = self._anchor
            if machine or anchor is None or wall - anchor[0] >= self.period_s * 1e9:
                self._read_machine(wall, cpu)
            prev = self._samples[-1] if self._samples else None
            sample = Sample(wall, cpu)
            if prev is not None:
                duration_s = (wall - prev.wall_ns) / 1e9
                proc_busy_s = max(cpu - prev.cpu_ns, 0) / 1e9
                cap = self.threads * duration_s
                busy_s = min(proc_busy_s + self._others_busy_per_s * duration_s, max(cap, proc_busy_s))
                load = MachineLoad(
                    duration_s=duration_s,
                    cpu_busy_s=busy_s,
                    cpu_load=min(busy_s / cap, 1.0) if cap > 0 else 0.0,
                    threads=self.threads,
                    ram_used_gb=self._ram_used_gb,
                )
                sample.load = load
                sample.energy = self._read_probes(load)
            self._samples.append(sample)
            self._walls.append(wall)

    def _read_machine(self, wall: int, cpu: int) -> None:
        """Update the busy rate of other processes and the memory in use."""
        try:
            busy_s, _ = self._read_cpu()
        except (OSError, ValueError, IndexError):
            return
        anchor = self._anchor
        if anchor is not None and wall > anchor[0]:
            span_s = (wall - anchor[0]) / 1e9
            others_s = (busy_s - anchor[2]) - (cpu - anchor[1]) / 1e9
            self._others_busy_per_s = min(max(others_s / span_s, 0.0), float(self.threads))
        self._anchor = (wall, cpu, busy_s)
        with contextlib.suppress(OSError, ValueError):
            self._ram_used_gb = self._read_mem()

    def _read_probes(self, load: MachineLoad) -> dict[str, tuple[float, float]]:
        energy: dict[str, tuple[float, float]] = {}
        for probe in list(self.probes):
            try:
                readings: list[ComponentEnergy] = probe.read(load)
            except Exception as err:  # a probe must never break the run
                self._probe_failed(probe, err)
                continue
            for reading in readings:
                static, dynamic = energy.get(reading.component, (0.0, 0.0))
                energy[reading.component] = (
                    static + max(reading.static_j, 0.0),
                    dynamic + max(reading.dynamic_j, 0.0),
                )
        return energy

    def _probe_failed(self, probe: Probe, err: Exception) -> None:
        self.probes.remove(probe)
        with contextlib.suppress(Exception):
            probe.close()
        kind = "" if isinstance(err, ProbeError) else f"{type(err).__name__}: "
        self.failed_probes[probe.name] = f"{kind}{err}"
        if self._on_probe_error is not None:
            # replacements (started already) take over from the next interval on
            with contextlib.suppress(Exception):  # a failing fallback must not stop the sampler
                self.probes.extend(self._on_probe_error(probe, err) or ())

    # ---- attribution

    def _shares(self, sample: Sample, prev: Sample) -> tuple[float, float]:
        """Fractions of the machine's dynamic and static energy that belong to this process."""
        static_share = 1.0 / self.processes
        if self.scope == "machine":
            return static_share, static_share
        assert sample.load is not None
        proc_busy_s = max((sample.cpu_ns - prev.cpu_ns) / 1e9, 0.0)
        if sample.load.cpu_busy_s <= 0:
            return 0.0, static_share
        return min(1.0, proc_busy_s / sample.load.cpu_busy_s), static_share

    def _process_energy(self, sample: Sample, prev: Sample) -> tuple[dict[str, float], dict[str, float]]:
        """The process's static and dynamic energy per component over one interval."""
        dyn_share, static_share = self._shares(sample, prev)
        static: dict[str, float] = {}
        dynamic: dict[str, float] = {}
        for comp, (static_j, dynamic_j) in sample.energy.items():
            static[comp] = static_j * static_share
            dynamic[comp] = dynamic_j * (static_share if comp == "gpu" else dyn_share)
        return static, dynamic

    @staticmethod
    def _pieces(
        samples: list[Sample], walls: list[int], t0: int, t1: int, c0: int, c1: int
    ) -> list[tuple[int, float, float]]:
        """Split one phase into (interval, wall_s, cpu_s) pieces at the sample points."""
        out: list[tuple[int, float, float]] = []
        n = len(samples)
        k = max(bisect.bisect_right(walls, t0), 1)
        a_wall, a_cpu = t0, c0
        while k < n and a_wall < t1:
            end = samples[k]
            if t1 <= end.wall_ns:
                b_wall, b_cpu = t1, c1
            else:
                b_wall, b_cpu = end.wall_ns, end.cpu_ns
            out.append((k, max(b_wall - a_wall, 0) / 1e9, max(b_cpu - a_cpu, 0) / 1e9))
            a_wall, a_cpu = b_wall, b_cpu
            k += 1
        return out

    def figures_for(self, test_index: int) -> TestFigures:
        """Figures of one test so far, after closing the current interval (for budgets).

        Costs one sample (probe reads) plus the test's own phases; the final figures, which
        are attributed at the end of the session, can differ slightly when tests share an
        interval whose clocks disagree.
        """
        self.sample(machine=False)
        fig = TestFigures()
        with self._lock:  # a few intervals' work; the lists are not copied
            samples = self._samples
            walls = self._walls
            phases = self._phases
            mine: list[tuple[int, int, int, int]] = []
            i = len(phases) - 5
            while i >= 0 and phases[i] == test_index:
                mine.append((phases[i + 1], phases[i + 2], phases[i + 3], phases[i + 4]))
                i -= 5
            self._charge_phases(fig, samples, walls, mine)
        return fig

    def _charge_phases(
        self, fig: TestFigures, samples: list[Sample], walls: list[int], phases: list[tuple[int, int, int, int]]
    ) -> None:
        cache: dict[int, tuple[float, float, Rates]] = {}
        comps = fig.components_j
        for t0, t1, c0, c1 in phases:
            fig.duration_s += (t1 - t0) / 1e9
            fig.cpu_time_s += max(c1 - c0, 0) / 1e9
            for k, w, c in self._pieces(samples, walls, t0, t1, c0, c1):
                if k not in cache:
                    static, dynamic = self._process_energy(samples[k], samples[k - 1])
                    wall_s = (samples[k].wall_ns - samples[k - 1].wall_ns) / 1e9
                    cpu_s = max((samples[k].cpu_ns - samples[k - 1].cpu_ns) / 1e9, 0.0)
                    cache[k] = (wall_s, cpu_s, _rates(static, dynamic, wall_s, cpu_s))
                wall_s, cpu_s, (total_w, total_c, dyn_w, dyn_c, per_comp) = cache[k]
                w, c = min(w, wall_s), min(c, cpu_s)  # a phase never takes more than its interval had
                fig.energy_j += w * total_w + c * total_c
                fig.dynamic_energy_j += w * dyn_w + c * dyn_c
                for comp, a, b in per_comp:
                    comps[comp] = comps.get(comp, 0.0) + w * a + c * b

    def attribute(self, n_tests: int) -> tuple[AllFigures, Totals]:
        """Charge every recorded phase; return per-test figures and the session's totals."""
        with self._lock:
            samples = list(self._samples)
            phases = self._phases
        figures = AllFigures(n_tests)
        n = len(samples)
        proc_static: list[dict[str, float]] = [{} for _ in range(n)]
        proc_dynamic: list[dict[str, float]] = [{} for _ in range(n)]
        comp_totals = dict.fromkeys(COMPONENTS, 0.0)
        dyn_totals = dict.fromkeys(COMPONENTS, 0.0)
        static_total = dynamic_total = machine_total = 0.0
        for k in range(1, n):
            proc_static[k], proc_dynamic[k] = self._process_energy(samples[k], samples[k - 1])
            for comp in proc_static[k]:
                s, d = proc_static[k][comp], proc_dynamic[k][comp]
                comp_totals[comp] = comp_totals.get(comp, 0.0) + s + d
                dyn_totals[comp] = dyn_totals.get(comp, 0.0) + d
                static_total += s
                dynamic_total += d
            machine_total += sum(a + b for a, b in samples[k].energy.values())

        # Pass 1: each phase's wall and CPU seconds per interval; a test's phases in one interval
        # make one group. Phases are recorded in time order, so the interval only moves forward;
        # a phase that crosses a sample is split by ``_pieces``.
        g_test: list[int] = []
        g_k: list[int] = []
        g_wall: list[float] = []
        g_cpu: list[float] = []
        wall_sum = [0.0] * n
        cpu_sum = [0.0] * n
        duration = figures.duration_s
        cpu_time = figures.cpu_time_s
        walls = list(self._walls)
        k = 1
        for test, t0, t1, c0, c1 in zip(
            phases[0::5], phases[1::5], phases[2::5], phases[3::5], phases[4::5], strict=True
        ):
            w = (t1 - t0) / 1e9
            c = (c1 - c0) / 1e9 if c1 > c0 else 0.0
            duration[test] += w
            cpu_time[test] += c
            if k < n and walls[k - 1] > t0:
                k = max(bisect.bisect_right(walls, t0), 1)
            while k < n and walls[k] <= t0:
                k += 1
            pieces: tuple[tuple[int, float, float], ...]
            if k < n and walls[k - 1] <= t0 and t1 <= walls[k]:
                pieces = ((k, w if w > 0 else 0.0, c),)
            else:
                pieces = tuple(self._pieces(samples, walls, t0, t1, c0, c1))
            for piece_k, piece_w, piece_c in pieces:
                wall_sum[piece_k] += piece_w
                cpu_sum[piece_k] += piece_c
                if g_test and g_test[-1] == test and g_k[-1] == piece_k:
                    g_wall[-1] += piece_w
                    g_cpu[-1] += piece_c
                else:
                    g_test.append(test)
                    g_k.append(piece_k)
                    g_wall.append(piece_w)
                    g_cpu.append(piece_c)

        # Pass 2: per interval, joules per wall second and per CPU second of a test (the tests of
        # an interval can never take more than the interval had), then each group's share.
        rates: list[tuple[float, float, float, float, list[tuple[list[float], float, float]]] | None] = [None] * n
        for k in range(1, n):
            wall_den = max((samples[k].wall_ns - samples[k - 1].wall_ns) / 1e9, wall_sum[k])
            cpu_den = max((samples[k].cpu_ns - samples[k - 1].cpu_ns) / 1e9, cpu_sum[k])
            total_w, total_c, dyn_w, dyn_c, per_comp = _rates(proc_static[k], proc_dynamic[k], wall_den, cpu_den)
            columns: list[tuple[list[float], float, float]] = []
            for comp, a, b in per_comp:
                if comp not in figures.components_j:
                    figures.components_j[comp] = [0.0] * n_tests
                columns.append((figures.components_j[comp], a, b))
            rates[k] = (total_w, total_c, dyn_w, dyn_c, columns)
        energy = figures.energy_j
        dynamic_energy = figures.dynamic_energy_j
        for test, k, w, c in zip(g_test, g_k, g_wall, g_cpu, strict=True):
            rate = rates[k]
            assert rate is not None
            total_w, total_c, dyn_w, dyn_c, columns = rate
            energy[test] += w * total_w + c * total_c
            dynamic_energy[test] += w * dyn_w + c * dyn_c
            for column, a, b in columns:
                column[test] += w * a + c * b

        duration_s = (samples[-1].wall_ns - samples[0].wall_ns) / 1e9 if n >= 2 else 0.0
        totals = Totals(
            duration_s=duration_s,
            energy_j=static_total + dynamic_total,
            components_j=comp_totals,
            static_j=static_total,
            dynamic_j=dynamic_total,
            dynamic_components_j=dyn_totals,
            machine_energy_j=machine_total,
            intervals=max(n - 1, 0),
        )
        return figures, totals


class Timeline(Meter):
    """Another process's timeline, received in pieces (``Meter.export``), attributed as its own meter would.

    Never started: it holds the phases and samples of the process that recorded them, so that
    ``attribute`` gives the figures that process's own attribution gives for the same timeline.
    """

    def __init__(self, *, scope: str = "process", processes: int = 1) -> None:
        super().__init__((), scope=scope, processes=processes, threads=1)

    def extend(self, phases: bytes, samples: Sequence[SampleData]) -> None:
        """Append a piece: packed phases and the samples taken since the last piece."""
        self._phases.frombytes(phases)
        for wall_ns, cpu_ns, load, energy in samples:
            sample = Sample(int(wall_ns), int(cpu_ns))
            if load is not None:
                sample.load = MachineLoad._make(load)
            sample.energy = {str(comp): (float(pair[0]), float(pair[1])) for comp, pair in energy.items()}
            self._samples.append(sample)
            self._walls.append(sample.wall_ns)

    def last_wall_ns(self) -> int | None:
        """The wall clock of the last sample received (the end of what can be attributed)."""
        return self._walls[-1] if self._walls else None

    def tests_after(self, wall_ns: int) -> set[int]:
        """The test indices with a phase that ends after ``wall_ns``."""
        phases = self._phases
        return {test for test, t1 in zip(phases[0::5], phases[2::5], strict=True) if t1 > wall_ns}

    def highest_test(self) -> int:
        """The highest test index among the phases (-1: none)."""
        phases = self._phases
        return max(phases[0::5]) if len(phases) else -1


# --------------------------------------------------------------------------- the library's entry
# ``with pytest_carbon.meter(region="FR") as m:`` (see pytest_carbon.block for the whole story): here,
# beside the timeline it drives, so that the callable module below needs no module that needs it.

F = TypeVar("F", bound=Callable[..., Any])


class BlockResult:
    """The figures of a metered block (zeros until the block has ended)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.energy_j = 0.0
        self.dynamic_energy_j = 0.0
        self.co2_g = 0.0
        self.duration_s = 0.0
        self.cpu_time_s = 0.0
        self.components_j: dict[str, float] = {}
        self.region: dict[str, Any] = {}
        self.probes: list[dict[str, Any]] = []
        self.problems: list[str] = []

    def as_dict(self) -> dict[str, Any]:
        """The figures as a report holds them."""
        return {
            "name": self.name,
            "duration_s": self.duration_s,
            "cpu_time_s": self.cpu_time_s,
            "energy_j": self.energy_j,
            "dynamic_energy_j": self.dynamic_energy_j,
            "co2_g": self.co2_g,
            "components_j": dict(self.components_j),
        }

    def __repr__(self) -> str:
        from pytest_carbon.units import format_co2, format_energy

        return (
            f"<{type(self).__name__} {self.name or 'block'}: {format_energy(self.energy_j)}, "
            f"{format_co2(self.co2_g)} CO2e over {self.duration_s:.3f} s>"
        )


def _region(code: str | None, pue: float | None) -> Any:
    from pytest_carbon.intensity.resolve import resolve_region

    # no network unless asked: the environment and firmware only
    return resolve_region(os.environ, code=code, origin="meter(region=...)", pue=pue, metadata=False)


class meter(BlockResult, contextlib.ContextDecorator):
    """Meter a block (``with``) or each call of a function (decorator); the figures are on the object after.

    ``region``: a region code (``FR``, ``zone:DE``, ``aws:eu-west-1``), refused at once when
    unknown; None: the cloud region found in the environment, else the world average.
    ``probe``: ``auto``, ``model``, ``rapl``, ``nvml`` or ``none``, as ``--carbon-probe``.
    ``period_s``: the sampler's period (shorter than the plugin's default: a block is often short).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        region: str | None = None,
        probe: str = "auto",
        period_s: float = 0.1,
        scope: str = "process",
        pue: float | None = None,
    ) -> None:
        super().__init__(name)
        from pytest_carbon.probes.select import CHOICES

        if probe not in CHOICES:
            raise ValueError(f"unknown probe {probe!r}; expected one of: {', '.join(CHOICES)}")
        if scope not in ("process", "machine"):
            raise ValueError(f"unknown scope {scope!r}; expected process or machine")
        self._region_obj = _region(region, pue)  # an unknown code is refused here, before the block
        self.region = self._region_obj.to_dict()
        self._probe = probe
        self._period_s = period_s
        self._scope = scope
        self._meter: Any = None

    def __enter__(self) -> meter:
        from pytest_carbon.probes.select import select_probes

        selection = select_probes(self._probe, os.environ)
        self.problems = list(selection.problems)
        self.probes = [dict(p.describe()) for p in selection.probes]
        self._meter = Meter(selection.probes, period_s=self._period_s, scope=self._scope)
        self._meter.start()
        self._meter.begin_phase()
        return self

    def __exit__(self, *exc: object) -> None:
        from pytest_carbon.units import co2_g_per_j

        found = self._meter
        if found is None:
            return
        self._meter = None
        found.end_phase(0)
        found.stop()
        try:
            figures, _ = found.attribute(1)
            fig = figures[0]
        finally:
            found.close()
        self.energy_j = fig.energy_j
        self.dynamic_energy_j = fig.dynamic_energy_j
        self.duration_s = fig.duration_s
        self.cpu_time_s = fig.cpu_time_s
        self.components_j = dict(fig.components_j)
        self.co2_g = fig.energy_j * co2_g_per_j(self.region)

    def __call__(self, func: F) -> F:
        """Meter each call of ``func``; the figures of the last call are on this object (and on ``func.carbon``)."""
        wrapped = super().__call__(func)
        wrapped.carbon = self  # type: ignore[attr-defined]
        return wrapped


class _CallableModule(types.ModuleType):
    """The module pytest_carbon.meter, callable: ``pytest_carbon.meter(region="FR")`` is ``meter``.

    The package's name ``meter`` is this module once it is imported (the import system sets it),
    so the library's context manager is reached through the module itself.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return meter(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
