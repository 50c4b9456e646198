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

import time
from typing import Any

# the library's ``meter`` and its figures live beside the timeline (the module ``pytest_carbon.meter``
# is callable, and calling it makes one); the fixture's blocks build on them
from pytest_carbon.meter import BlockResult as BlockResult
from pytest_carbon.meter import meter as meter


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
