"""Quantities: parsing is strict, formatting is readable, and the two round-trip."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_carbon.config import ConfigError
from pytest_carbon.units import (
    CO2_UNITS_G,
    ENERGY_UNITS_J,
    QuantityError,
    format_co2,
    format_energy,
    format_percent,
    parse_co2,
    parse_energy,
    parse_percent,
    parse_quantity,
)

VALID = [
    ("2 J", "energy", 2.0),
    ("2J", "energy", 2.0),
    ("3 kJ", "energy", 3000.0),
    ("1 MJ", "energy", 1e6),
    ("2.5 Wh", "energy", 9000.0),
    ("1.5kWh", "energy", 5.4e6),
    ("300 mWh", "energy", 1080.0),
    ("  0.5 J  ", "energy", 0.5),
    (".5 J", "energy", 0.5),
    ("1e-3 J", "energy", 1e-3),
    ("5 mg", "co2", 5e-3),
    ("5mg", "co2", 5e-3),
    ("7 ug", "co2", 7e-6),
    ("7 µg", "co2", 7e-6),
    ("0.2 g CO2e", "co2", 0.2),
    ("0.2 gCO2e", "co2", 0.2),
    ("1 kg CO2eq", "co2", 1000.0),
    ("2 t", "co2", 2e6),
    ("0 g", "co2", 0.0),
]

INVALID = ["5 potatoes", "", "   ", "-1 g", "+1 g", "1e999 J", "nan g", "inf J", "NaN J", "g", "5", "5 J CO2e", "1,5 g"]


@pytest.mark.parametrize(("text", "kind", "value_si"), VALID)
def test_valid_quantities(text: str, kind: str, value_si: float) -> None:
    q = parse_quantity(text)
    assert q.kind == kind
    assert q.value_si == pytest.approx(value_si, rel=1e-12)
    assert q.text == text.strip()


@pytest.mark.parametrize("text", INVALID)
def test_invalid_quantities_give_examples(text: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert isinstance(info.value, ConfigError)
    message = str(info.value)
    assert '"5 mg"' in message and '"2 J"' in message


def test_kind_specific_parsers_refuse_the_other_kind() -> None:
    assert parse_energy("2 kJ") == 2000.0
    assert parse_co2("5 mg") == pytest.approx(0.005)
    with pytest.raises(QuantityError, match="CO2e mass where an energy"):
        parse_energy("5 mg")
    with pytest.raises(QuantityError, match="energy where a CO2e mass"):
        parse_co2("2 J")


@pytest.mark.parametrize(
    ("energy_j", "text"),
    [(0.0, "0 J"), (1.2e-6, "1.2 µJ"), (0.0123, "12.3 mJ"), (4.5, "4.5 J"), (4500.0, "4.5 kJ"), (3.6e6, "3.6 MJ")],
)
def test_format_energy(energy_j: float, text: str) -> None:
    assert format_energy(energy_j) == text


@pytest.mark.parametrize(
    ("co2_g", "text"),
    [(0.0, "0 g"), (7.2e-3, "7.2 mg"), (1.5e3, "1.5 kg"), (2e-8, "20 ng"), (999.96, "1 kg"), (0.25, "250 mg")],
)
def test_format_co2(co2_g: float, text: str) -> None:
    assert format_co2(co2_g) == text


@pytest.mark.parametrize(("text", "fraction"), [("15%", 0.15), ("15", 0.15), (" 2.5 % ", 0.025), ("0.15", 0.0015)])
def test_percent(text: str, fraction: float) -> None:
    assert parse_percent(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["", "-5%", "fifteen", "15%%", "1e999", "nan"])
def test_bad_percent(text: str) -> None:
    with pytest.raises(QuantityError, match="15%"):
        parse_percent(text)


def test_format_percent() -> None:
    assert format_percent(0.153) == "+15.3%"
    assert format_percent(-0.2) == "-20.0%"


finite = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(finite)
def test_formatted_energy_round_trips(energy_j: float) -> None:
    back = parse_energy(format_energy(energy_j))
    assert back == pytest.approx(energy_j, rel=5e-3)


@given(finite)
def test_formatted_co2_round_trips(co2_g: float) -> None:
    back = parse_co2(format_co2(co2_g) + " CO2e")
    assert back == pytest.approx(co2_g, rel=5e-3)


@given(
    st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
    st.sampled_from(sorted({*ENERGY_UNITS_J, *CO2_UNITS_G})),
    st.sampled_from(["", " "]),
)
def test_any_number_and_unit_parses(number: object, unit: str, space: str) -> None:
    text = f"{number}{space}{unit}"
    q = parse_quantity(text)
    scale = ENERGY_UNITS_J.get(unit) or CO2_UNITS_G[unit]
    assert q.value_si == pytest.approx(float(str(number)) * scale, rel=1e-12)
    assert q.kind == ("energy" if unit in ENERGY_UNITS_J else "co2")


@given(st.text(max_size=20))
def test_arbitrary_text_parses_or_gives_the_clear_error(text: str) -> None:
    try:
        q = parse_quantity(text)
    except QuantityError as err:
        assert "for example" in str(err)
    else:
        assert math.isfinite(q.value_si) and q.value_si >= 0
