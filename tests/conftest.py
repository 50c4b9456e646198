"""Test configuration: plugin behaviour is tested through real inner pytest sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner sessions must not see the outer run's carbon settings or CI job summary."""
    from pytest_carbon.config import ENABLE, OPTIONS

    for option in (ENABLE, *OPTIONS):
        monkeypatch.delenv(option.env, raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def carbon_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose inner sessions meter with a fixed-power probe and a known region."""
    from carbon_helpers import FIXED_PROBE_CONFTEST

    pytester.makeconftest(FIXED_PROBE_CONFTEST)
    return pytester


def load_report(path: Path) -> dict[str, Any]:
    """Read a JSON report written by an inner session."""
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
