"""CPU name normalisation and TDP lookup, on real vendor strings."""

from __future__ import annotations

import pytest

from pytest_carbon.probes.tdp import key, lookup, normalise, table_size

NAMES = [
    ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Intel Xeon Platinum 8375C"),
    ("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "Intel Xeon Platinum 8370C"),
    ("Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz", "Intel Xeon E5-2673 v4"),
    ("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz", "Intel Xeon Gold 6148"),
    ("Intel(R) Core(TM) i7-8550U CPU @ 1.80GHz", "Intel Core i7-8550U"),
    ("12th Gen Intel(R) Core(TM) i7-12700H", "Intel Core i7-12700H"),
    ("13th Gen Intel(R) Core(TM) i9-13900K", "Intel Core i9-13900K"),
    ("Intel(R) Core(TM) Ultra 7 155H", "Intel Core Ultra 7 155H"),
    ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763"),
    ("AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654"),
    ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X"),
    ("AMD Ryzen 7 5800H with Radeon Graphics", "AMD Ryzen 7 5800H"),
    ("AMD Ryzen 5 PRO 4650U with Radeon Graphics", "AMD Ryzen 5 PRO 4650U"),
    ("AMD Ryzen Threadripper PRO 5995WX 64-Cores", "AMD Ryzen Threadripper PRO 5995WX"),
    ("AMD Opteron(tm) Processor 6274", "AMD Opteron 6274"),
    ("Apple M1", "Apple M1"),
    ("Apple M2 Pro", "Apple M2 Pro"),
    ("apple m3 max", "Apple M3 Max"),
    ("Neoverse-N1", "ARM Neoverse N1"),
    ("ARM Neoverse V2", "ARM Neoverse V2"),
    ("AWS Graviton3", "AWS Graviton3"),
    ("Graviton 2", "AWS Graviton2"),
    ("Intel Xeon Processor (Cascadelake)", "Intel Xeon"),
    ("QEMU Virtual CPU version 2.5+", "QEMU Virtual version 2.5+"),
    ("", ""),
    ("   ", ""),
    ("Intel® Core™ i5-7400", "Intel Core i5-7400"),
    ("ＡＭＤ　ＥＰＹＣ　７７６３", "AMD EPYC 7763"),  # full-width forms fold under NFKC
]


@pytest.mark.parametrize(("raw", "expected"), NAMES)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_normalise_none_and_unicode_do_not_fail() -> None:
    assert normalise(None) == ""
    assert normalise("Проце́ссор ✓") == "Проце́ссор ✓"
    assert key("INTEL XEON GOLD 6148") == key("Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz")


TDP = [
    ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 300.0),
    ("AMD EPYC 7763 64-Core Processor", 280.0),
    ("12th Gen Intel(R) Core(TM) i7-12700H", 45.0),
    ("AMD Ryzen 9 5950X 16-Core Processor", 105.0),
    ("Apple M1", 10.0),
    ("AMD Opteron(tm) Processor 6274", 115.0),  # listed under its model number alone
    ("intel xeon e5-2673 V4", 135.0),
]


@pytest.mark.parametrize(("raw", "tdp_w"), TDP)
def test_lookup_known(raw: str, tdp_w: float) -> None:
    assert lookup(raw)[1] == tdp_w


@pytest.mark.parametrize(
    "raw", ["AMD EPYC", "Apple M3 Max", "AWS Graviton3", "ARM Neoverse N1", "Foo 9000", "", "   ", None, "💻"]
)
def test_lookup_unknown(raw: str | None) -> None:
    assert lookup(raw)[1] is None


def test_table_is_loaded_whole() -> None:
    assert table_size() > 4000


def test_table_rows_are_sorted_and_unique_by_folded_name() -> None:
    # the lookup bisects the text: tools/build_cpu_table.py must keep writing it in this order
    from pytest_carbon.probes.tdp import _table_text

    names = [line.rpartition(",")[0].casefold() for line in _table_text().splitlines()[1:]]
    assert names == sorted(set(names))


def test_lookup_without_parsing_agrees_with_the_parsed_table() -> None:
    from pytest_carbon.probes.tdp import _table, _tdp_of

    table = _table()
    assert all(_tdp_of(name) == tdp_w for name, tdp_w in table.items())
    for name in list(table)[::97]:  # names next to real ones, but not in the table
        for near in (name + "x", name[:-1], " " + name, name + ",", name + "\n1"):
            assert _tdp_of(near) == table.get(near)
    assert _tdp_of("") is None


def test_lookup_does_not_parse_the_table() -> None:
    from pytest_carbon.probes import tdp

    tdp._table.cache_clear()
    tdp.lookup.cache_clear()
    assert tdp.lookup("AMD EPYC 9654 96-Core Processor")[1] is not None
    assert tdp._table.cache_info().currsize == 0
