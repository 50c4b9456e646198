"""``pytest-carbon estimate`` in single and batch mode, with bad input in both."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_carbon.cli import main

EPYC = ["--cpu-model", "AMD EPYC 7763 64-Core Processor", "--threads", "128", "--sockets", "1", "--ram-gb", "512"]


def test_single_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", *EPYC, "--load", "0.5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tdp_source"] == "table" and doc["tdp_w_used"] == 280.0
    assert doc["total_w"] == pytest.approx(doc["cpu_w"] + doc["ram_w"], abs=1e-3)


def test_single_text_and_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", *EPYC]) == 0
    assert "AMD EPYC 7763" in capsys.readouterr().out
    assert main(["estimate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["machine"] == "this machine"


def test_unknown_cpu_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "--cpu-model", "Foo 9000", "--threads", "8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tdp_source"] == "default" and "not in the TDP table" in doc["note"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cpu-model", "x", "--threads", "0"], "threads must be 1 or more"),
        (["--cpu-model", "x", "--threads", "-2"], "threads must be 1 or more"),
        (["--cpu-model", "x", "--threads", "four"], "--threads must be a whole number"),
        (["--cpu-model", "x", "--threads", "4", "--load", "1.2"], "load must be between 0 and 1"),
        (["--cpu-model", "x", "--threads", "4", "--load", "abc"], "--load must be a number"),
        (["--cpu-model", "x", "--threads", "4", "--ram-gb", "nan"], "--ram-gb must be a finite number"),
        (["--cpu-model", "x"], "--threads is needed"),
        (["--jsonl", "--threads", "4"], "drop the other flags"),
    ],
)
def test_single_bad_input(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_batch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {"cpu_model": "AMD EPYC 7763 64-Core Processor", "threads": 128, "ram_gb": 512, "load": 0.5},
        "",
        "{not json",
        {"cpu_model": "Foo 9000", "threads": 8},
        {"threads": 0},
        {"threads": 4, "load": 2},
        {"threads": "four"},
        {"threads": 4, "ram_gb": "lots"},
        [1, 2],
        {"threads": 4, "tdp_w": 95, "virtual": True, "cpu_model": "Intel Xeon Gold 6148"},
    ]
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert main(["estimate", "--jsonl"]) == 1  # some lines were bad
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["tdp_source"] == "table" and {"cpu_w", "ram_w", "total_w", "tdp_w_used"} <= set(out[0])
    assert "empty line" in out[1]["error"]
    assert "invalid JSON" in out[2]["error"]
    assert out[3]["tdp_source"] == "default"
    assert "threads must be 1 or more" in out[4]["error"]
    assert "load must be between 0 and 1" in out[5]["error"]
    assert "threads must be a whole number" in out[6]["error"]
    assert "ram_gb must be a number" in out[7]["error"]
    assert "expected a JSON object" in out[8]["error"]
    assert out[9]["tdp_source"] == "given" and out[9]["host_share"] is not None


def test_installed_script_batch() -> None:
    script = shutil.which("pytest-carbon") or str(Path(sys.executable).parent / "pytest-carbon")
    done = subprocess.run(
        [script, "estimate", "--jsonl"],
        input='{"cpu_model": "AMD EPYC 7763", "threads": 4, "load": 0.25}\n',
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tdp_w_used"] == 280.0


# the keys every answer had before the band and the inputs were added; none may go
OLD_KEYS = {"cpu_w", "ram_w", "total_w", "idle_w", "tdp_w_used", "tdp_source", "cpu_model", "host_share"}
OLD_KEYS |= {"host_threads", "host_threads_source"}
NEW_KEYS = {"band", "class", "year", "year_used", "vendor", "host", "notes"}


def test_json_keeps_its_keys_and_adds_band_and_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", *EPYC, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert OLD_KEYS | NEW_KEYS | {"machine", "virtual"} <= set(doc)
    assert doc["class"] == "server" and doc["vendor"] == "amd" and doc["year"] == 2021 and doc["year_used"] == 2018
    assert doc["host"] is None
    assert doc["band"]["p50_pct"] > 0 and doc["band"]["p90_pct"] >= doc["band"]["p50_pct"]
    assert any("newer than the calibration" in n for n in doc["notes"])


def test_instance_type_gives_the_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "--instance", "m5.large", "--load", "0.1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["class"] == "vm" and doc["host_share"] == pytest.approx(2 / 96, abs=1e-6)
    assert doc["host"]["cpu_model"] == "Intel Xeon Platinum 8175M" and doc["host"]["ram_gb"] == 384.0
    assert main(["estimate", "--instance", "m5.large"]) == 0
    text = capsys.readouterr().out
    assert "VM share" in text and "cloud host table (m5.large, aws)" in text and " ± " in text


def test_text_shows_class_year_and_band(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "--cpu-model", "Apple M2", "--threads", "8", "--ram-gb", "16", "--load", "0"]) == 0
    text = capsys.readouterr().out
    assert "class         apple, vendor apple, year 2022" in text
    assert "total (wall)  2.40 W ± " in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cpu-model", "x", "--threads", "4", "--year", "soon"], "--year must be a whole number"),
        (["--cpu-model", "x", "--threads", "4", "--year", "1800"], "year must be a whole year"),
        (["--cpu-model", "x", "--threads", "4", "--vm", "--host-threads", "0"], "host_threads must be"),
    ],
)
def test_new_flags_bad_input(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", *args]) == 2
    assert message in capsys.readouterr().err


def test_batch_keeps_its_keys_and_takes_the_new_fields(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {"cpu_model": "AMD EPYC 7763", "threads": 4, "load": 0.25},
        {"threads": 4, "ram_gb": 16, "instance": "Standard_D4ads_v5", "load": 0.5},
        {"threads": 16, "tdp_w": 65, "machine_class": "desktop", "ram_gb": 32, "year": 2022, "vendor": "intel"},
        {"threads": 4, "colour": "green"},
        {"threads": 4, "machine_class": "toaster"},
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(json.dumps(x) for x in lines) + "\n"))
    assert main(["estimate", "--jsonl"]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert set(out[0]) >= OLD_KEYS | NEW_KEYS
    assert out[1]["class"] == "vm" and out[1]["host"]["source"] == "cloud host table (d4ads_v5, azure)"
    assert out[2]["class"] == "desktop" and out[2]["year"] == 2022 and out[2]["ram_w"] == pytest.approx(0.392 * 32)
    assert "unknown field(s): colour" in out[3]["error"] and "instance" in out[3]["error"]
    assert "machine_class must be one of" in out[4]["error"]
