"""The built wheel, installed outside the checkout, carries its data and registers its entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (built,) = out.glob("pytest_carbon-*.whl")
    return built


def test_wheel_holds_the_data_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "pytest_carbon/report.schema.json" in names
    assert "pytest_carbon/py.typed" in names
    shipped = {n for n in names if n.startswith("pytest_carbon/intensity_data/")}
    committed = {f"pytest_carbon/intensity_data/{p.name}" for p in (ROOT / "intensity_data").iterdir() if p.is_file()}
    assert committed <= shipped
    data = {n for n in names if n.startswith("pytest_carbon/data/")}
    data_dir = ROOT / "pytest_carbon" / "data"
    committed_data = {f"pytest_carbon/data/{p.name}" for p in data_dir.iterdir() if p.is_file()}
    assert committed_data <= data
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "carbon = pytest_carbon.plugin" in text
    assert "pytest-carbon = pytest_carbon.cli:main" in text


def test_installed_wheel_finds_its_data(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = """
import importlib.resources as r, json, sys
import pytest_carbon
from pytest_carbon.reports.json import schema
assert pytest_carbon.__file__.startswith(sys.argv[1]), pytest_carbon.__file__
files = sorted(p.name for p in r.files("pytest_carbon.intensity_data").iterdir())
print(json.dumps({"schema": schema()["title"], "files": files}))
"""
    env = dict(os.environ, PYTHONPATH=str(target))
    done = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    committed = sorted(p.name for p in (ROOT / "intensity_data").iterdir() if p.is_file() and p.suffix != ".pyc")
    assert all(name in done.stdout for name in committed)
