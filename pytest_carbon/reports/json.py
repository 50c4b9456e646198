"""The JSON report: written atomically, checked against the schema shipped in the package."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces) to ``path`` through a temporary file in the same folder and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.writelines([text] if isinstance(text, str) else text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; artefacts are not
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _chunks(report: dict[str, Any]) -> Iterator[str]:
    """The report's JSON text in pieces: indented, with one test a line.

    Indented output goes through the json module's pure-Python encoder (about 30 microseconds
    a test); the tests, the bulk of a large report, are encoded one line each by the C encoder,
    and yielded one by one so that a large report is never held twice in memory.
    """
    head = {key: value for key, value in report.items() if key != "tests"}
    text = json.dumps(head, indent=2, ensure_ascii=False, allow_nan=False)
    if "tests" not in report:
        yield text + "\n"
        return
    yield (text[:-2] + ",\n" if head else "{\n") + '  "tests": ['
    separator = "\n    "
    for test in report["tests"]:
        yield separator + json.dumps(test, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
        separator = ",\n    "
    yield ("\n  ]" if report["tests"] else "]") + "\n}\n"


def dumps(report: dict[str, Any]) -> str:
    """The report as JSON text: indented, with one test a line."""
    return "".join(_chunks(report))


def write_json(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the report atomically: a reader never sees half a file."""
    write_text_atomic(path, _chunks(report))


def load_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved report; raise ValueError with a clear message for anything else."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not JSON: {err}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ValueError(f"{path} is not a pytest-carbon report (no schema_version)")
    if data["schema_version"] != 1:
        raise ValueError(
            f"{path} has report schema version {data['schema_version']}; this pytest-carbon reads version 1"
        )
    return data


def schema() -> dict[str, Any]:
    """The JSON Schema of the report, as shipped in the package."""
    text = resources.files("pytest_carbon").joinpath("report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
