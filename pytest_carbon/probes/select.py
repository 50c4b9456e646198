"""Choosing the probes for a session: counters where they can be read, the power model elsewhere.

``auto``: RAPL for the CPU (packages) and memory (DRAM) where its counters are readable, NVML
for NVIDIA GPUs where a driver is there, and the power model for whatever no counter measures
(memory when RAPL has no DRAM domain; CPU and memory when RAPL is absent or closed).
``rapl`` and ``nvml``: the same, but the named counter is required: when it cannot be used,
that is reported as a problem and the rest falls back as in ``auto``. ``model``: the power model
alone. ``none``: no probe (times only).

Every probe is started here, so that a probe that cannot work is known, and said, once, before
the first test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from pytest_carbon.probes._common import POWERCAP_ROOT, NotPresent, nvml_possible, rapl_possible
from pytest_carbon.probes.base import Probe, ProbeError

CHOICES = ("auto", "model", "rapl", "nvml", "none")
#: the powercap folder, as rapl.DEFAULT_ROOT (from _common, so that a machine without it never imports rapl)
DEFAULT_RAPL_ROOT = POWERCAP_ROOT


class Selection:
    """The started probes, and one-line messages to print once at start-up."""

    __slots__ = ("probes", "problems")

    def __init__(self, probes: list[Probe] | None = None, problems: list[str] | None = None) -> None:
        self.probes: list[Probe] = [] if probes is None else probes
        self.problems: list[str] = [] if problems is None else problems

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selection):
            return NotImplemented
        return self.probes == other.probes and self.problems == other.problems

    __hash__ = None  # type: ignore[assignment]  # mutable lists inside, like the dataclass it replaces

    def __repr__(self) -> str:
        return f"Selection(probes={self.probes!r}, problems={self.problems!r})"

    @property
    def components(self) -> tuple[str, ...]:
        """Components covered by some probe, in report order."""
        covered = {c for p in self.probes for c in p.components}
        return tuple(c for c in ("cpu", "ram", "gpu") if c in covered)


def _model(components: tuple[str, ...]) -> Probe:
    # imported here, when needed: the model is a sibling module with its own (heavier) tables
    from pytest_carbon.probes.model import ModelProbe

    return ModelProbe(components=components)


def _start(probe: Probe) -> None:
    try:
        probe.start()
    except BaseException:
        with contextlib.suppress(Exception):  # the start error is the one worth reporting
            probe.close()
        raise


def _start_counter(probe: Probe, asked: bool, problems: list[str], suffix: str = "") -> bool:
    """Start a counter probe; True when it runs.

    Its absence is said only when it was ``asked`` for by name, any other failure always (each
    message followed by ``suffix``).
    """
    try:
        _start(probe)
    except NotPresent as err:
        if asked:
            problems.append(f"{err}{suffix}")
        return False
    except ProbeError as err:
        problems.append(f"{err}{suffix}")
        return False
    return True


def select_probes(
    choice: str,
    environ: Mapping[str, str],
    *,
    rapl_root: str | None = None,
    rapl_psys: bool = False,
    nvml_module: Any = None,
    proc_root: str = "/proc",
) -> Selection:
    """Start the probes for ``choice`` (the option carbon_probe); never raises for a missing probe.

    ``rapl_root``: the powercap folder (None: /sys/class/powercap); ``rapl_psys``: count the
    platform domain; ``environ`` is read for ``CUDA_VISIBLE_DEVICES``. ``nvml_module`` stands in
    for ``pynvml`` (tests, or a caller that already loaded it).
    """
    if choice not in CHOICES:
        return Selection([], [f"unknown probe {choice!r}; expected one of: {', '.join(CHOICES)}"])
    if choice == "none":
        return Selection([], [])
    probes: list[Probe] = []
    problems: list[str] = []
    measured: set[str] = set()

    if choice in ("auto", "rapl", "nvml"):
        # a probe that is not on this machine is said only when it was asked for by name; otherwise a
        # cheap look tells that it is absent, and its module is not even imported
        if choice == "rapl" or rapl_possible(rapl_root or DEFAULT_RAPL_ROOT):
            from pytest_carbon.probes.rapl import RaplProbe

            rapl = RaplProbe(rapl_root or None, psys=rapl_psys)
            if _start_counter(rapl, choice == "rapl", problems):
                probes.append(rapl)
                measured.update(rapl.components)

        if choice == "nvml" or nvml_module is not None or nvml_possible(proc_root):
            from pytest_carbon.probes.nvml import NvmlProbe

            nvml = NvmlProbe(nvml_module, environ, proc_root=proc_root, required=choice == "nvml")
            if _start_counter(nvml, choice == "nvml", problems, "; GPU energy is not measured"):
                probes.append(nvml)
                measured.add("gpu")

    missing = tuple(c for c in ("cpu", "ram") if c not in measured)
    if missing:
        try:
            model = _model(missing)
            _start(model)
        except ImportError as err:
            problems.append(f"the power model is not available ({err}); {', '.join(missing)} not metered")
        except ProbeError as err:
            problems.append(f"power model: {err}")
        else:
            probes.append(model)
    return Selection(probes, problems)
