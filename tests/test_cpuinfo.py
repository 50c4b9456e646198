"""CPU, memory and VM detection from fake /proc and DMI trees."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_carbon.probes.cpuinfo import linux_spec, parse_proc_cpuinfo, read_dmi, this_machine

X86 = """processor\t: {n}
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
physical id\t: {socket}
core id\t\t: {core}
flags\t\t: fpu vme {extra}
"""


def _tree(tmp_path: Path, cpuinfo: str, dmi: dict[str, str] | None = None, mem_kb: int = 16_384_000) -> Path:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text(cpuinfo)
    (tmp_path / "proc" / "meminfo").write_text(f"MemTotal:       {mem_kb} kB\nMemFree:  1 kB\n")
    if dmi:
        folder = tmp_path / "sys" / "class" / "dmi" / "id"
        folder.mkdir(parents=True)
        for name, text in dmi.items():
            (folder / name).write_text(text + "\n")
    return tmp_path


def _x86(sockets: int, cores: int, smt: int, extra: str = "") -> str:
    blocks, n = [], 0
    for socket in range(sockets):
        for _ in range(smt):
            for core in range(cores):
                blocks.append(X86.format(n=n, socket=socket, core=core, extra=extra))
                n += 1
    return "\n".join(blocks)


def test_bare_metal_two_sockets(tmp_path: Path) -> None:
    root = _tree(tmp_path, _x86(2, 4, 2), {"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R740"})
    spec = linux_spec(root, allow_command=False)
    assert (spec.sockets, spec.cores, spec.threads) == (2, 8, 16)
    assert spec.cpu_model == "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"
    assert spec.vendor == "GenuineIntel"
    assert spec.ram_gb == round(16_384_000 * 1024 / 1e9, 3)
    assert spec.virtual is False and spec.hypervisor is None


def test_hypervisor_flag_and_dmi(tmp_path: Path) -> None:
    root = _tree(tmp_path, _x86(1, 2, 1, "hypervisor"), {"sys_vendor": "Amazon EC2"})
    spec = linux_spec(root, allow_command=False)
    assert spec.virtual is True
    assert spec.hypervisor == "amazon"
    assert spec.virt_method == "cpu flag hypervisor and DMI vendor"


def test_dmi_alone_names_the_vm(tmp_path: Path) -> None:
    root = _tree(tmp_path, _x86(1, 2, 1), {"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)"})
    assert read_dmi(root) == "qemu"
    spec = linux_spec(root, allow_command=False)
    assert (spec.virtual, spec.virt_method) == (True, "DMI vendor")


def test_arm_part_names_the_core(tmp_path: Path) -> None:
    text = "".join(
        f"processor\t: {n}\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\n\n"
        for n in range(4)
    )
    spec = linux_spec(_tree(tmp_path, text), allow_command=False)
    assert spec.cpu_model == "ARM Neoverse N1"
    assert spec.vendor == "ARM"
    assert spec.threads == 4


def test_empty_and_missing_files(tmp_path: Path) -> None:
    info = parse_proc_cpuinfo("")
    assert info.model is None and info.threads == 0
    spec = linux_spec(tmp_path, allow_command=False)  # no /proc at all
    assert spec.threads >= 1 and spec.ram_gb == 0.0 and spec.virtual is None


def test_this_machine_is_cached_and_fast() -> None:
    this_machine.cache_clear()
    start = time.perf_counter()
    first = this_machine()
    assert this_machine() is first
    assert first.threads >= 1
    # the default path reads small files; a process is spawned only when flags and DMI say nothing
    if first.virt_method and "systemd" not in first.virt_method:
        assert time.perf_counter() - start < 0.05


def test_chassis_type_tells_the_class(tmp_path: Path) -> None:
    from pytest_carbon.probes.cpuinfo import read_chassis

    for code, expected in (("9", "laptop"), ("10", "laptop"), ("3", "desktop"), ("23", "server"), ("1", None)):
        root = tmp_path / code
        root.mkdir()
        _tree(root, _x86(1, 4, 2), {"sys_vendor": "LENOVO", "chassis_type": code})
        assert read_chassis(root) == expected
        assert linux_spec(root, allow_command=False).chassis == expected
    assert read_chassis(tmp_path / "nowhere") is None
    odd = tmp_path / "odd"
    odd.mkdir()
    _tree(odd, _x86(1, 1, 1), {"chassis_type": "laptop?"})
    assert read_chassis(odd) is None


def test_instance_type_from_the_dmi_product_name(tmp_path: Path) -> None:
    from pytest_carbon.probes.cpuinfo import read_instance_type

    aws = tmp_path / "aws"
    aws.mkdir()
    _tree(aws, _x86(1, 1, 2, "hypervisor"), {"sys_vendor": "Amazon EC2", "product_name": "m5.large"})
    assert read_instance_type(aws) == "m5.large"
    spec = linux_spec(aws, allow_command=False)
    assert spec.virtual is True and spec.instance_type == "m5.large"
    metal = tmp_path / "metal"
    metal.mkdir()
    _tree(metal, _x86(1, 1, 2), {"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R740"})
    assert read_instance_type(metal) is None
    assert linux_spec(metal, allow_command=False).instance_type is None
