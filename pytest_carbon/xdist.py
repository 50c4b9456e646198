"""pytest-xdist support on the controller; registered only when xdist runs the session.

Workers meter their own tests and send each test's figures on its last report (so a worker
that dies loses only its unfinished test); their own totals arrive in ``workeroutput`` when
they finish. The controller keeps the machine's static energy, counted once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_carbon.session import CarbonSession


class XdistController:
    """Collects what each worker sends when it goes down."""

    def __init__(self, session: CarbonSession) -> None:
        self.session = session

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        worker = str(node.gateway.id)
        output = getattr(node, "workeroutput", None) or {}
        carbon = output.get("carbon")
        if isinstance(carbon, dict):
            self.session.worker_outputs[worker] = carbon
        if error is not None:
            self.session.dead_workers[worker] = str(error).strip() or "crashed"
