"""Metering a block of code: ``with pytest_carbon.meter(region="FR") as m:``, a decorator, and the ``carbon`` fixture.

Outside pytest, ``meter`` starts the probes the plugin would choose (``probe="auto"``: RAPL and NVML
where they can be read, the power model for the rest), resolves the region as the plugin does
(a code, else the cloud region found in the environment and firmware, else the world average; the
cloud's metadata service is never asked), runs the same sampler and attribution for the block, and
stops them at its end::

    import pytest_carbon

    with pytest_carbon.meter(region="FR") as m:
        train()
    print(m.energy_j, m.co2_g)

    @pytest_carbon.meter(region="aws:eu-west-1")
    def nightly(): ...
    nightly()
    print(nightly.carbon.energy_j)  # the figures of the last call

Inside a test, the ``carbon`` fixture meters a block with the session's own probes, sampler and
region (nothing is started twice): ``with carbon.meter("load data") as m: ...``; the block's figures
are added to the test's entry of the report under ``blocks``. Without ``--carbon`` the fixture
falls back to a ``meter`` of its own, so that a test using it runs the same either way.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

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
        from pytest_carbon.meter import Meter
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


class _SessionBlock(BlockResult):
    """A block inside a test, charged from the session's running meter (no probe started twice)."""

    def __init__(self, session: Any, index: int, name: str | None) -> None:
        super().__init__(name)
        self._session = session
        self._index = index
        self._start: tuple[int, int] | None = None
        self.region = session.region.to_dict() if session.region is not None else {}
        self.probes = list(session.probe_descriptions)

    def __enter__(self) -> _SessionBlock:
        from pytest_carbon.meter import cpu_now_ns

        self._start = (time.perf_counter_ns(), cpu_now_ns())
        return self

    def __exit__(self, *exc: object) -> None:
        from pytest_carbon.meter import TestFigures, cpu_now_ns

        if self._start is None:
            return
        c1 = cpu_now_ns()
        t1 = time.perf_counter_ns()
        t0, c0 = self._start
        self._start = None
        found = self._session.meter
        fig = TestFigures()
        if found is not None:
            found.sample(machine=False)  # closes the interval the block ends in
            # the span is charged as the meter charges a test's phases, from the same samples
            with found._lock:
                found._charge_phases(fig, found._samples, found._walls, [(t0, t1, c0, c1)])
        self.energy_j = fig.energy_j
        self.dynamic_energy_j = fig.dynamic_energy_j
        self.duration_s = fig.duration_s
        self.cpu_time_s = fig.cpu_time_s
        self.components_j = dict(fig.components_j)
        self.co2_g = fig.energy_j * self._session._co2_factor()
        self._session.tests.blocks.setdefault(self._index, []).append(self.as_dict())


class CarbonFixture:
    """What the ``carbon`` fixture gives a test: ``carbon.meter(name)`` meters a block of it."""

    def __init__(self, session: Any, item: Any) -> None:
        self._session = session
        self._item = item

    @property
    def active(self) -> bool:
        """True when pytest-carbon meters this session (``--carbon``)."""
        return self._session is not None and self._session.meter is not None

    def meter(self, name: str | None = None) -> Any:
        """A context manager metering a block; its figures go to the test's entry under ``blocks``."""
        if not self.active:
            return meter(name)
        return _SessionBlock(self._session, self._session._index(self._item), name)
