"""The CPU facts table and the cloud host table: their lookups by bisection, and the tool that builds them."""

from __future__ import annotations

import csv
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from pytest_carbon.probes import tdp
from pytest_carbon.probes.tdp import cloud_host, cpu_facts, instance_key

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "pytest_carbon" / "data"
SOURCES = Path(os.environ.get("PYTEST_CARBON_SOURCES") or ROOT.parent / "shared" / "sources")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_cpu_facts", ROOT / "tools" / "build_cpu_facts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("raw", "name", "vendor", "year", "year_source", "threads", "tdp_w"),
    [
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", "amd", 2021, "release date", 128, 280.0),
        (
            "11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz",
            "Intel Core i7-1185G7",
            "intel",
            2020,
            "release date",
            8,
            28.0,
        ),
        ("Apple M2", "Apple M2", "apple", 2022, "release date", 8, 20.0),
        (
            "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz",
            "Intel Xeon Platinum 8175M",
            "intel",
            2017,
            "code name",
            48,
            240.0,
        ),
        ("Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz", "Intel Xeon E5-2673 V4", "intel", 2016, "code name", 40, 135.0),
        ("Graviton2", "AWS Graviton2", "arm", 2019, "release date", 64, 150.0),
    ],
)
def test_facts_of_real_names(
    raw: str, name: str, vendor: str, year: int, year_source: str, threads: int, tdp_w: float
) -> None:
    facts = cpu_facts(raw)
    assert facts is not None
    assert (facts.name, facts.vendor, facts.year, facts.year_source) == (name, vendor, year, year_source)
    assert (facts.threads, facts.tdp_w) == (threads, tdp_w)


@pytest.mark.parametrize("raw", ["Foo 9000", "", None, "AMD EPYC", "Intel Xeon E5-2660"])
def test_facts_unknown(raw: str | None) -> None:
    assert cpu_facts(raw) is None


@pytest.mark.parametrize(
    ("file", "header"), [("cpu_facts.csv", tdp.FACTS_HEADER), ("cloud_hosts.csv", tdp.HOSTS_HEADER)]
)
def test_tables_are_sorted_unique_and_found_by_bisection(file: str, header: str) -> None:
    lines = (DATA / file).read_text(encoding="utf-8").splitlines()
    assert lines[0] == header
    keys = [line.partition(",")[0].casefold() for line in lines[1:]]
    assert keys == sorted(set(keys))
    width = header.count(",")
    assert all(line.count(",") == width for line in lines[1:])  # no field holds a comma
    rows, low = tdp._sorted_rows((DATA / file).read_text(encoding="utf-8"), file, header)
    for line in lines[1:]:
        assert tdp.find_row(rows, low, line.partition(",")[0].casefold()) == line
    for key in keys[::53]:
        for near in (key + "x", key[:-1], " " + key, key + ","):
            if near not in keys:
                assert tdp.find_row(rows, low, near) is None


def test_lookups_read_the_text_without_parsing_it() -> None:
    tdp._facts_rows.cache_clear()
    tdp.cpu_facts.cache_clear()
    assert cpu_facts("AMD EPYC 9654 96-Core Processor") is not None
    text, start = tdp._facts_rows()
    assert isinstance(text, str) and start > 0  # the table stays one string; no dict of its rows is built


def test_hosts() -> None:
    m5 = cloud_host("m5.large")
    assert m5 is not None and (m5.provider, m5.vcpu, m5.host_cpu, m5.host_sockets) == (
        "aws",
        2,
        "Intel Xeon Platinum 8175M",
        2,
    )
    runner = cloud_host("Standard_D4ads_v5")
    assert runner is not None and runner.host_cpu == "AMD EPYC 7763" and runner.host_threads_per_socket == 128
    n2 = cloud_host("N2-STANDARD-4")
    assert n2 is not None and n2.host_ram_gb is None and n2.host_threads_per_socket == 72
    assert "65536" in n2.checked and "144" in n2.checked
    assert cloud_host("nothing.here") is None and cloud_host("") is None and cloud_host("a,b") is None
    assert instance_key(" Standard_D2s_V3 ") == "d2s_v3"


def test_every_host_cpu_is_in_the_facts_table() -> None:
    with (DATA / "cloud_hosts.csv").open(newline="", encoding="utf-8") as handle:
        hosts = list(csv.DictReader(handle))
    assert len(hosts) > 2000
    missing = {h["host_cpu"] for h in hosts if cpu_facts(h["host_cpu"]) is None}
    assert not missing
    for h in hosts:
        if h["host_ram_gb"]:
            assert float(h["host_ram_gb"]) <= 6144 * int(h["host_sockets"])
        if h["host_threads_per_socket"]:
            assert int(h["vcpu"]) <= int(h["host_threads_per_socket"]) * int(h["host_sockets"])


def test_committed_tables_are_what_the_tool_builds() -> None:
    if not (SOURCES / "cpu_specs_techpowerup.csv").is_file():
        if os.environ.get("PYTEST_CARBON_REQUIRE_SOURCES") == "1":
            pytest.fail(f"{SOURCES} lacks cpu_specs_techpowerup.csv and PYTEST_CARBON_REQUIRE_SOURCES=1")
        pytest.skip(f"sources not found at {SOURCES} (set PYTEST_CARBON_SOURCES to their folder)")
    assert _tool().main([str(SOURCES), "--check"]) == 0


def test_tool_checks_odd_rows(tmp_path: Path) -> None:
    (tmp_path / "cpu_specs_techpowerup.csv").write_text(
        "name,manufacturer,code_name,model_range,release_date,tdp_w,cores,threads,process_nm\n"
        "Intel Xeon Gold 9999,Intel,Skylake,Xeon Gold,,0,20,40,14\n"  # TDP 0, no date: year from the code name
        "Intel Core i9-99999,Intel,Newlake,Core i9,2023-05-01,125,24,32,7\n"  # dated: the code name's year
        "Intel Core i5-99999,Intel,Newlake,Core i5,,65,8,4,7\n"  # threads below cores; year from dated rows
        "AMD Ryzen 9 99990X,,Mystery,Ryzen 9,,170,16,32,5\n"  # no vendor, no date, unknown code name
        "Annapurna Labs Graviton2,Annapurna Labs,Graviton2,Graviton,2019-11-01,150,64,64,7\n",
        encoding="utf-8",
    )
    (tmp_path / "cloud_instances_boavizta.csv").write_text(
        "provider,instance,vcpu,memory_gb,platform,host_cpu,host_sockets,host_cores_per_socket,"
        "host_threads_per_socket,host_ram_gb\n"
        "gcp,x1-standard-4,4,16,x1,Intel Xeon Gold 9999,2,,144,65536.0\n"
        "aws,y1.large,2,8,y1.metal,Intel Core i9-99999,1,,,4\n"
        "aws,big.metal,96,768,big.metal,AWS Graviton2,1,,,1024\n"
        "azure,Standard_Z2,2,4,Z,,1,,,64\n",
        encoding="utf-8",
    )
    tool = _tool()
    facts, counts = tool.build_facts(tmp_path / "cpu_specs_techpowerup.csv")
    gold = facts["intel xeon gold 9999"]
    assert gold[1:] == ["intel", "2017", "code name", "20", "40", ""]
    assert facts["intel core i5-99999"][2:6] == ["2023", "code name", "8", ""]
    assert facts["amd ryzen 9 99990x"][1:4] == ["amd", "", ""]
    assert "aws graviton2" in facts and facts["aws graviton2"][1] == "arm"
    assert counts["no_tdp"] == 1 and counts["bad_threads"] == 1 and counts["no_year"] == 1
    hosts, host_counts = tool.build_hosts(tmp_path / "cloud_instances_boavizta.csv", facts)
    x1 = hosts["x1-standard-4"]
    assert x1[6] == "40" and x1[7] == "" and "threads 144 replaced by facts" in x1[8] and "dropped" in x1[8]
    y1 = hosts["y1.large"]
    assert y1[7] == "" and "below" not in y1[8] and "dropped" in y1[8]  # host memory under the instance's
    big = hosts["big.metal"]
    assert big[6] == "96" and "host taken as the instance" in big[8]
    assert "z2" not in hosts and host_counts["no_host_cpu"] == 1
