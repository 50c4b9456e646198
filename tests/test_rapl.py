"""RAPL probe against fake powercap trees written as real files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from powercap import build_tree, get_uj, set_uj, write_zone

from pytest_carbon.probes.base import MachineLoad, ProbeError
from pytest_carbon.probes.rapl import RaplProbe, discover

LOAD = MachineLoad(duration_s=0.5, cpu_busy_s=0.5, cpu_load=0.5, threads=2, ram_used_gb=1.0)


def _advance(zone: Path, add_uj: int, max_range_uj: int | None = None) -> None:
    value = get_uj(zone) + add_uj
    if max_range_uj is not None:
        value %= max_range_uj
    set_uj(zone, value)


def _by_component(probe: RaplProbe) -> dict[str, tuple[float, float]]:
    return {r.component: (r.static_j, r.dynamic_j) for r in probe.read(LOAD)}


def _total(readings: dict[str, tuple[float, float]], component: str) -> float:
    static, dynamic = readings[component]
    return static + dynamic


def test_one_package_with_dram(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True, core=True)
    probe = RaplProbe(root)
    probe.start()
    try:
        assert probe.components == ("cpu", "ram")
        assert [d.label for d in probe.domains] == ["package-0", "package-0/dram"]
        _advance(root / "intel-rapl:0", 2_500_000)
        _advance(root / "intel-rapl:0" / "intel-rapl:0:0", 9_000_000)  # core: never counted
        _advance(root / "intel-rapl:0" / "intel-rapl:0:1", 400_000)
        got = _by_component(probe)
        assert _total(got, "cpu") == pytest.approx(2.5, abs=1e-9)
        assert _total(got, "ram") == pytest.approx(0.4, abs=1e-9)
        readings = probe.read(LOAD)
        assert all(r.measured and r.probe == "rapl" for r in readings)
        assert sum(r.energy_j for r in readings) == 0.0
    finally:
        probe.close()


def test_two_packages_and_their_dram_are_summed(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=2, dram=True, core=True, uncore=True)
    probe = RaplProbe(root)
    probe.start()
    try:
        labels = [d.label for d in probe.domains]
        assert labels == ["package-0", "package-0/dram", "package-1", "package-1/dram"]
        _advance(root / "intel-rapl:0", 1_000_000)
        _advance(root / "intel-rapl:1", 3_000_000)
        _advance(root / "intel-rapl:0" / "intel-rapl:0:1", 5_000_000)  # uncore
        _advance(root / "intel-rapl:0" / "intel-rapl:0:2", 200_000)  # dram
        _advance(root / "intel-rapl:1" / "intel-rapl:1:2", 300_000)
        got = _by_component(probe)
        assert _total(got, "cpu") == pytest.approx(4.0, abs=1e-9)
        assert _total(got, "ram") == pytest.approx(0.5, abs=1e-9)
    finally:
        probe.close()


def test_without_dram_only_cpu_is_covered(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False, core=True, uncore=True)
    probe = RaplProbe(root)
    probe.start()
    try:
        assert probe.components == ("cpu",)
        _advance(root / "intel-rapl:0", 700_000)
        got = _by_component(probe)
        assert set(got) == {"cpu"}
        assert _total(got, "cpu") == pytest.approx(0.7, abs=1e-9)
    finally:
        probe.close()


def test_mmio_twin_of_a_package_is_counted_once(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True, mmio=True)
    probe = RaplProbe(root)
    probe.start()
    try:
        assert [d.zone for d in probe.domains] == ["intel-rapl:0", "intel-rapl:0:1"]
        assert any("intel-rapl-mmio:0" in n and "counted once" in n for n in probe.describe()["notes"])
        _advance(root / "intel-rapl:0", 1_000_000)
        _advance(root / "intel-rapl-mmio:0", 1_000_000)  # the same energy, seen twice
        assert _total(_by_component(probe), "cpu") == pytest.approx(1.0, abs=1e-9)
    finally:
        probe.close()


def test_mmio_alone_is_used(tmp_path: Path) -> None:
    root = tmp_path / "pc"
    write_zone(root / "intel-rapl-mmio:0", "package-0", 10)
    found = discover(root)
    assert [d.zone for d in found.domains] == ["intel-rapl-mmio:0"]


def test_psys_only_when_asked_or_alone(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True, psys=True)
    default = discover(root)
    assert [d.kind for d in default.domains] == ["package", "dram"]
    assert any("psys" in n and "left out" in n for n in default.notes)
    asked = discover(root, psys=True)
    assert [d.kind for d in asked.domains] == ["psys"]

    alone = tmp_path / "alone"
    write_zone(alone / "intel-rapl:0", "psys", 10)
    probe = RaplProbe(alone)
    probe.start()
    try:
        assert [d.kind for d in probe.domains] == ["psys"]
        # psys includes memory: nothing else may add a memory estimate on top
        assert probe.components == ("cpu", "ram")
        _advance(alone / "intel-rapl:0", 3_000_000)
        got = _by_component(probe)
        assert set(got) == {"cpu"}
        assert _total(got, "cpu") == pytest.approx(3.0, abs=1e-9)
    finally:
        probe.close()


def test_amd_like_tree_without_dram(tmp_path: Path) -> None:
    # AMD Zen parts expose the same intel-rapl tree, with packages and core subzones but no DRAM
    root = build_tree(tmp_path / "pc", packages=2, dram=False, core=True)
    found = discover(root)
    assert [d.label for d in found.domains] == ["package-0", "package-1"]


def test_a_wrap_is_corrected_with_the_range(tmp_path: Path) -> None:
    max_range = 10_000_000
    root = build_tree(tmp_path / "pc", packages=1, dram=False, max_range_uj=max_range)
    zone = root / "intel-rapl:0"
    set_uj(zone, max_range - 1_000_000)
    probe = RaplProbe(root)
    probe.start()
    try:
        _advance(zone, 3_000_000, max_range)  # passes the top: reads 2_000_000
        assert get_uj(zone) == 2_000_000
        got = _by_component(probe)
        assert _total(got, "cpu") == pytest.approx(3.0, abs=1e-9)
        static, dynamic = got["cpu"]
        assert static >= 0 and dynamic >= 0
        assert probe.describe()["inputs"]["domains"][0]["wraps"] == 1
    finally:
        probe.close()


@pytest.mark.parametrize("how", ["missing", "directory", "garbage", "zero"])
def test_backwards_without_a_range_drops_the_interval(tmp_path: Path, how: str) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True, max_range_uj=None)
    dram = root / "intel-rapl:0" / "intel-rapl:0:1"
    pkg = root / "intel-rapl:0"
    if how == "directory":
        (pkg / "max_energy_range_uj").mkdir()  # unreadable, even for root
    elif how == "garbage":
        (pkg / "max_energy_range_uj").write_text("n/a\n")
    elif how == "zero":
        (pkg / "max_energy_range_uj").write_text("0\n")
    set_uj(pkg, 5_000_000)
    probe = RaplProbe(root)
    probe.start()
    try:
        assert any("max_energy_range_uj" in n for n in probe.describe()["notes"])
        set_uj(pkg, 1_000_000)  # went backwards: a wrap of unknown size
        _advance(dram, 250_000)
        got = _by_component(probe)
        assert "cpu" not in got  # no negative figure, no invented one
        assert _total(got, "ram") == pytest.approx(0.25, abs=1e-9)
        _advance(pkg, 2_000_000)  # the next interval counts again
        assert _total(_by_component(probe), "cpu") == pytest.approx(2.0, abs=1e-9)
        desc = probe.describe()
        assert desc["inputs"]["domains"][0]["dropped_intervals"] == 1
        assert any("went backwards 1 time" in n for n in desc["notes"])
    finally:
        probe.close()


def test_static_plus_dynamic_is_the_measured_energy(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    zone = root / "intel-rapl:0"
    probe = RaplProbe(root)
    probe.start()
    try:
        readings = []
        written = 0
        for add in (500_000, 3_000_000, 700_000, 9_123_457, 1):
            _advance(zone, add)
            written += add
            readings.append(probe.read(LOAD)[0])
        total = sum(r.static_j + r.dynamic_j for r in readings)
        assert total == pytest.approx(written / 1e6, rel=1e-12)
        for r in readings:
            assert r.static_j >= 0 and r.dynamic_j >= 0
            assert round((r.static_j + r.dynamic_j) * 1e6) == round(r.energy_j * 1e6)
        # the first interval sets the floor; busier intervals after it carry dynamic energy
        assert sum(r.dynamic_j for r in readings) > 0
    finally:
        probe.close()


def test_idle_hint_caps_the_static_share(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    probe = RaplProbe(root, idle_power_w={"cpu": 0.0})
    probe.start()
    try:
        _advance(root / "intel-rapl:0", 1_000_000)
        static, dynamic = _by_component(probe)["cpu"]
        assert static == 0.0
        assert dynamic == pytest.approx(1.0, abs=1e-9)
    finally:
        probe.close()


def test_no_powercap_is_a_probe_error(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="no package or DRAM energy counters"):
        RaplProbe(tmp_path / "absent").start()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProbeError, match="virtual machines"):
        RaplProbe(empty).start()


def test_energy_uj_that_cannot_be_read(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    counter = root / "intel-rapl:0" / "energy_uj"
    counter.unlink()
    counter.mkdir()
    with pytest.raises(ProbeError, match=r"intel-rapl:0/energy_uj"):
        RaplProbe(root).start()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 file; see the dropped-privilege test")
def test_energy_uj_permission_denied_chmod(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    (root / "intel-rapl:0" / "energy_uj").chmod(0)
    with pytest.raises(ProbeError) as info:
        RaplProbe(root).start()
    text = str(info.value)
    assert "permission denied" in text and "CVE-2020-8694" in text and "udev" in text


@pytest.mark.skipif(os.geteuid() != 0, reason="as a normal user the chmod test above covers it")
def test_energy_uj_permission_denied_without_root_override(tmp_path: Path) -> None:
    # like a real distribution: the counter is root-only, and this process may not override that
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed")
    root = build_tree(tmp_path / "pc", packages=1, dram=True)
    counter = root / "intel-rapl:0" / "energy_uj"
    counter.chmod(0)
    script = textwrap.dedent(
        f"""
        from pytest_carbon.probes.base import ProbeError
        from pytest_carbon.probes.rapl import RaplProbe
        try:
            RaplProbe({str(root)!r}).start()
        except ProbeError as err:
            print("PROBE-ERROR", err)
        else:
            print("STARTED")
        """
    )
    drop = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    check = subprocess.run([*drop, "cat", str(counter)], capture_output=True, text=True, timeout=30)
    if check.returncode == 0 or "Permission denied" not in check.stderr:
        pytest.skip(f"cannot drop the file-permission override here: {check.stderr.strip()}")
    proc = subprocess.run([*drop, sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    line = proc.stdout.strip()
    assert line.startswith("PROBE-ERROR"), line
    assert f"{counter}: permission denied" in line
    assert "CVE-2020-8694" in line
    assert 'SUBSYSTEM=="powercap", ACTION=="add"' in line and "/etc/udev/rules.d/" in line
    assert "sudo chmod a+r" in line


def test_counter_turned_unreadable_mid_session(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=False)
    probe = RaplProbe(root)
    probe.start()
    try:
        os.close(probe.domains[0].fd)
        probe.domains[0].fd = os.open(tmp_path, os.O_RDONLY)  # a directory handle: reads fail
        with pytest.raises(ProbeError, match="cannot read"):
            probe.read(LOAD)
    finally:
        probe.close()


def test_describe_lists_domains_and_ranges(tmp_path: Path) -> None:
    root = build_tree(tmp_path / "pc", packages=1, dram=True, max_range_uj=12345678)
    probe = RaplProbe(root)
    probe.start()
    try:
        desc = probe.describe()
        assert desc["name"] == "rapl" and desc["measured"] is True
        assert desc["components"] == ["cpu", "ram"]
        domains = desc["inputs"]["domains"]
        assert [d["name"] for d in domains] == ["package-0", "package-0/dram"]
        assert all(d["max_energy_range_uj"] == 12345678 for d in domains)
        assert any("core" in n and "not counted again" in n for n in desc["notes"])
    finally:
        probe.close()
