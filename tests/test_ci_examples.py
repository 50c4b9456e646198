"""The CI examples: valid against the GitHub Actions and GitLab CI schemas; they install the wheel built here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "github-actions.yml": "vendor.github-workflows",
    "gitlab-ci.yml": "vendor.gitlab-ci",
}


def _check(path: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("name", "schema"), sorted(EXAMPLES.items()))
def test_example_is_valid_against_its_schema(name: str, schema: str) -> None:
    done = _check(ROOT / "examples" / name, schema)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("name", "schema"), sorted(EXAMPLES.items()))
def test_the_schema_refuses_a_broken_file(tmp_path: Path, name: str, schema: str) -> None:
    """The control: a file each schema must refuse (a job's steps as a string, a script as a number)."""
    broken = tmp_path / name
    if "github" in schema:
        broken.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps: run tests\n")
    else:
        broken.write_text("t:\n  script: 3\n  when: sometimes\n")
    assert _check(broken, schema).returncode != 0


def _package_line(text: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.strip().startswith("CARBON_PACKAGE:")]
    return line.split(":", 1)[1].strip()


def test_examples_install_the_wheel_this_checkout_builds(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("pytest_carbon-*.whl")
    for name in EXAMPLES:
        text = (ROOT / "examples" / name).read_text(encoding="utf-8")
        assert Path(_package_line(text)).name == wheel.name
        assert 'pip install -e . "$CARBON_PACKAGE"' in text
        assert "this one line becomes: CARBON_PACKAGE: pytest-carbon" in text
        # the plugin's own switch is PYTEST_CARBON: the package variable must not be named so
        assert "PYTEST_CARBON: " not in text
