"""Property tests of the power model over its whole input domain: monotone, and inside its physical bounds.

Servers of 1 to 8 sockets, 1 to 512 threads, 1 to 600 W of TDP per socket, 0 to 4 TB of memory, any year
and vendor; virtual machines of 1 to 128 vCPUs on hosts of up to 512 threads and 4 TB; laptops, Apple
machines and desktops from their TDP.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_carbon.probes.model import coefficients, estimate

SLACK = 1e-9  # relative: sums of floats may differ in their last bits

sockets_st = st.integers(1, 8)
threads_st = st.integers(1, 512)
tdp_st = st.floats(1.0, 600.0)
ram_st = st.floats(0.0, 4096.0)
year_st = st.one_of(st.none(), st.integers(1990, 2035))
vendor_st = st.sampled_from(["intel", "amd", "arm", "apple", "unknown"])
load_st = st.floats(0.0, 1.0)
growth = st.sampled_from(["sockets", "threads", "tdp_w", "ram_gb"])


def _server(load: float, **machine: Any) -> tuple[float, float]:
    result = estimate(None, load=load, machine_class="server", **machine)
    return result.total_w, result.idle_w


def _le(a: float, b: float) -> bool:
    return a <= b * (1 + SLACK) + 1e-12


@st.composite
def servers(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "sockets": draw(sockets_st),
        "threads": draw(threads_st),
        "tdp_w": draw(tdp_st),
        "ram_gb": draw(ram_st),
        "year": draw(year_st),
        "vendor": draw(vendor_st),
    }


@settings(max_examples=300, deadline=None)
@given(servers(), load_st, growth, st.floats(1.0, 8.0))
def test_server_power_never_falls_when_the_machine_grows(
    machine: dict[str, Any], load: float, what: str, factor: float
) -> None:
    bigger = dict(machine)
    if what in ("sockets", "threads"):
        bigger[what] = min(machine[what] * max(2, round(factor)), 4096)
    else:
        bigger[what] = machine[what] * factor + (1.0 if what == "ram_gb" else 0.0)
    small_total, small_idle = _server(load, **machine)
    big_total, big_idle = _server(load, **bigger)
    assert _le(small_idle, big_idle), (what, small_idle, big_idle)
    assert _le(small_total, big_total), (what, small_total, big_total)
    full_small, _ = _server(1.0, **machine)
    full_big, _ = _server(1.0, **bigger)
    assert _le(full_small, full_big)


@settings(max_examples=300, deadline=None)
@given(servers(), load_st, load_st)
def test_server_power_rises_with_load_and_stays_inside_its_bounds(machine: dict[str, Any], a: float, b: float) -> None:
    low, high = sorted((a, b))
    p_low, idle = _server(low, **machine)
    p_high, _ = _server(high, **machine)
    assert _le(idle, p_low) and _le(p_low, p_high)
    server = coefficients().server
    floor = server["floor_w_per_socket"] * machine["sockets"]
    ceiling = (
        server["ceiling_factor"]
        * (machine["sockets"] * machine["tdp_w"] + server["ceiling_ram_w_per_gb"] * machine["ram_gb"])
        + floor
    )
    full, _ = _server(1.0, **machine)
    assert _le(floor, idle) or idle == ceiling  # a ceiling below the floor only for absurdly small TDPs
    assert _le(full, ceiling)
    newer = server["newer"]
    if machine["year"] is not None and machine["year"] > newer["after_year"]:
        assert _le(newer["idle_fraction_floor"] * full, idle)
    result = estimate(None, load=high, machine_class="server", **machine)
    assert 0.0 <= result.ram_w <= result.total_w * (1 + SLACK)
    assert result.cpu_w >= -1e-9


@st.composite
def hosts(draw: st.DrawFn) -> dict[str, Any]:
    sockets = draw(st.integers(1, 8))
    per_socket = draw(st.integers(1, 512 // sockets))
    return {
        "host_sockets": sockets,
        "host_threads": per_socket,
        "host_ram_gb": draw(st.floats(1.0, 4096.0)),
        "tdp_w": draw(tdp_st),
        "year": draw(year_st),
        "vendor": draw(vendor_st),
    }


@settings(max_examples=300, deadline=None)
@given(hosts(), st.integers(1, 128), st.integers(1, 128), load_st)
def test_vm_is_a_bounded_monotone_share_of_its_host(host: dict[str, Any], a: int, b: int, load: float) -> None:
    small, big = sorted((a, b))
    total_threads = host["host_sockets"] * host["host_threads"]
    vm_small = estimate(None, small, 1, 4.0, load, host["tdp_w"], virtual=True, **_host_args(host))
    vm_big = estimate(None, big, 1, 4.0, load, host["tdp_w"], virtual=True, **_host_args(host))
    assert _le(vm_small.total_w, vm_big.total_w)
    assert _le(vm_small.idle_w, vm_small.total_w)
    assert vm_small.host is not None
    host_total = vm_small.host["total_w"]
    assert vm_small.total_w > 0 and _le(vm_small.total_w, host_total + 1e-4)  # the host figure is rounded
    if small <= total_threads:
        assert abs(vm_small.total_w - host_total * small / total_threads) <= 1e-4 + 1e-6 * host_total  # rounded
        server = coefficients().server
        assert _le(server["floor_w_per_socket"] * host["host_sockets"] * small / total_threads, vm_small.idle_w)


@settings(max_examples=200, deadline=None)
@given(hosts(), st.integers(1, 128), st.floats(1.0, 4.0), load_st)
def test_vm_power_never_falls_when_its_host_has_more_memory(
    host: dict[str, Any], vcpus: int, factor: float, load: float
) -> None:
    more = dict(host, host_ram_gb=host["host_ram_gb"] * factor)
    a = estimate(None, vcpus, 1, 4.0, load, host["tdp_w"], virtual=True, **_host_args(host))
    b = estimate(None, vcpus, 1, 4.0, load, host["tdp_w"], virtual=True, **_host_args(more))
    assert _le(a.total_w, b.total_w)


def _host_args(host: dict[str, Any]) -> dict[str, Any]:
    return {k: host[k] for k in ("host_sockets", "host_threads", "host_ram_gb", "year", "vendor")}


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["laptop", "apple", "desktop"]),
    st.floats(1.0, 400.0),
    st.floats(1.0, 4.0),
    ram_st,
    st.floats(0.0, 512.0),
    load_st,
    load_st,
)
def test_client_power_is_monotone_and_bounded_by_its_tdp(
    machine_class: str, tdp_w: float, factor: float, ram_gb: float, more_ram: float, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    base = estimate(None, 8, 1, ram_gb, low, tdp_w, machine_class=machine_class)
    hotter = estimate(None, 8, 1, ram_gb, high, tdp_w, machine_class=machine_class)
    bigger = estimate(None, 8, 1, ram_gb + more_ram, low, tdp_w * factor, machine_class=machine_class)
    assert _le(base.idle_w, base.total_w) and _le(base.total_w, hotter.total_w)
    assert _le(base.total_w, bigger.total_w)
    memory = 0.392 * ram_gb if machine_class == "desktop" else 0.0
    assert _le(0.12 * tdp_w + memory, base.total_w * (1 + 1e-9))
    assert _le(hotter.total_w, 1.02 * tdp_w + memory)
