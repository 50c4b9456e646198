"""The command-line tools on a closed pipe: quiet, exit status 141 (128 + SIGPIPE), through real pipes."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reportdata import make_report

from pytest_carbon.cli import PIPE_CLOSED_EXIT

COMMAND = [sys.executable, "-m", "pytest_carbon.cli"]
CASES = [["regions"], ["probes", "--json"], ["regions", "--json"], ["--help"], ["estimate", "--json"]]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(a) for a in CASES])
def test_a_pipe_closed_before_any_output_ends_quietly(args: list[str]) -> None:
    with subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the first write
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert err == "" and code == PIPE_CLOSED_EXIT == 141


def test_report_markdown_into_a_closed_pipe_is_not_a_write_error(tmp_path: Path) -> None:
    report = make_report([(f"tests/t.py::test_{i}", 1.0 + i) for i in range(3000)])
    path = tmp_path / "big.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    with subprocess.Popen(
        [*COMMAND, "report", str(path), "--top", "3000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert err == "" and code == 141  # not "cannot write", exit 2


def test_a_pipe_closed_after_the_first_line_ends_quietly() -> None:
    # more than a pipe's buffer (64 KiB) of regions: the writer meets the closed pipe mid-way
    with subprocess.Popen([*COMMAND, "regions"], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert first.startswith(b"code ") and err == "" and code == 141


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("head") is None, reason="needs bash and head")
@pytest.mark.parametrize("args", [["regions"], ["probes", "--json"]], ids=["regions", "probes --json"])
def test_piped_into_head_in_a_shell(args: list[str]) -> None:
    line = shlex.join([*COMMAND, *args]) + ' | head -1; echo "status ${PIPESTATUS[0]}" >&2'
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
    # regions always outgrows the pipe; the probes' JSON may fit in it and end with 0 before head closes
    assert done.stderr.strip() in ("status 141", "status 0") and (args != ["regions"] or "141" in done.stderr)


def test_a_complete_run_still_exits_0() -> None:
    done = subprocess.run([*COMMAND, "regions", "FR"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "FR" in done.stdout and done.stderr == ""
