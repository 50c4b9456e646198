"""Quantities: parse "5 mg", "2.5 Wh", "3 kJ", "15%" and format joules and grams readably.

Energy is held in joules and CO2e mass in grams (the SI units of the report). Parsing is strict:
a number (no sign, decimals and an exponent allowed), an optional space, a unit, and for a mass
an optional ``CO2e``/``CO2eq`` suffix. Anything else raises ``QuantityError`` with examples.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from pytest_carbon.errors import QuantityError as QuantityError

Kind = Literal["energy", "co2"]

J_PER_WH = 3600.0
J_PER_KWH = 1e3 * J_PER_WH


def co2_g_per_j(region: Mapping[str, Any]) -> float:
    """Grams of CO2e per joule for a report's region: intensity (g/kWh) x PUE / 3.6e6 J per kWh."""
    return float(region.get("intensity_g_per_kwh") or 0.0) * float(region.get("pue") or 1.0) / J_PER_KWH


#: energy units, in joules
ENERGY_UNITS_J: dict[str, float] = {
    "µJ": 1e-6,
    "μJ": 1e-6,
    "uJ": 1e-6,
    "mJ": 1e-3,
    "J": 1.0,
    "j": 1.0,
    "kJ": 1e3,
    "kj": 1e3,
    "KJ": 1e3,
    "MJ": 1e6,
    "GJ": 1e9,
    "mWh": 1e-3 * J_PER_WH,
    "Wh": J_PER_WH,
    "wh": J_PER_WH,
    "kWh": J_PER_KWH,
    "kwh": 1e3 * J_PER_WH,
    "KWh": 1e3 * J_PER_WH,
    "MWh": 1e6 * J_PER_WH,
}

#: CO2e mass units, in grams
CO2_UNITS_G: dict[str, float] = {
    "ng": 1e-9,
    "ug": 1e-6,
    "µg": 1e-6,
    "μg": 1e-6,
    "mg": 1e-3,
    "g": 1.0,
    "kg": 1e3,
    "t": 1e6,
}

EXAMPLES = '"2 J", "1.5 kWh", "300mWh", "5 mg", "0.2 g CO2e", "1 kg CO2eq"'
_HELP = (
    f"write a number and a unit, for example {EXAMPLES} "
    "(energy: J, kJ, MJ, mWh, Wh, kWh; CO2e: ug or µg, mg, g, kg, t, optionally followed by CO2e or CO2eq)"
)

_NUMBER = r"(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"


@functools.cache
def _quantity_re() -> re.Pattern[str]:
    # compiled on the first parse: most sessions only format figures
    unit = "|".join(re.escape(u) for u in sorted({*ENERGY_UNITS_J, *CO2_UNITS_G}, key=len, reverse=True))
    return re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>{unit})(?:\s*(?P<co2>CO2e|CO2eq|CO₂e|CO₂eq|CO2-eq|co2e|co2eq))?\s*$")


@functools.cache
def _percent_re() -> re.Pattern[str]:
    return re.compile(rf"^\s*{_NUMBER}\s*(?P<pct>%?)\s*$")


class Quantity(NamedTuple):
    """A parsed quantity: ``kind`` says energy (``value_si`` in J) or CO2e (``value_si`` in g)."""

    kind: Kind
    value_si: float
    text: str

    @property
    def unit_si(self) -> str:
        """The SI unit of ``value_si``: "J" or "g"."""
        return "J" if self.kind == "energy" else "g"

    def formatted(self) -> str:
        """The value in a readable unit, CO2e masses followed by "CO2e"."""
        return format_quantity(self.value_si, self.kind)


def parse_quantity(text: str) -> Quantity:
    """Read an energy ("2 J", "1.5kWh") or a CO2e mass ("5 mg", "0.2 g CO2e")."""
    if not isinstance(text, str):
        raise QuantityError(f"expected a text such as {EXAMPLES}, got {type(text).__name__}")
    match = _quantity_re().match(text)
    if match is None:
        shown = text.strip() or "an empty value"
        if shown != "an empty value":
            shown = f'"{shown}"'
        raise QuantityError(f"cannot read {shown} as an energy or a CO2e mass; {_HELP}")
    unit = match["unit"]
    number = float(match["number"])
    if unit in ENERGY_UNITS_J:
        if match["co2"]:
            raise QuantityError(f'"{text.strip()}" puts CO2e after an energy unit; {_HELP}')
        kind: Kind = "energy"
        value_si = number * ENERGY_UNITS_J[unit]
    else:
        kind = "co2"
        value_si = number * CO2_UNITS_G[unit]
    if not math.isfinite(value_si):
        raise QuantityError(f'"{text.strip()}" is too large to be a useful figure; {_HELP}')
    return Quantity(kind, value_si, text.strip())


def parse_energy(text: str) -> float:
    """Read an energy and return joules; a CO2e mass is refused."""
    quantity = parse_quantity(text)
    if quantity.kind != "energy":
        raise QuantityError(
            f'"{text.strip()}" is a CO2e mass where an energy is expected, for example "2 J", "1.5 kWh"'
        )
    return quantity.value_si


def parse_co2(text: str) -> float:
    """Read a CO2e mass and return grams; an energy is refused."""
    quantity = parse_quantity(text)
    if quantity.kind != "co2":
        raise QuantityError(f'"{text.strip()}" is an energy where a CO2e mass is expected, for example "5 mg", "2 g"')
    return quantity.value_si


def parse_percent(text: str) -> float:
    """Read a threshold in per cent and return a fraction: "15%" and "15" both give 0.15.

    A bare number is always per cent, so "0.15" means 0.15 % (0.0015), never 15 %.
    """
    match = _percent_re().match(text) if isinstance(text, str) else None
    if match is None:
        raise QuantityError(
            f'cannot read "{str(text).strip()}" as a percentage; write for example "15%" or "15" (both 15 %), '
            '"2.5%"; a bare number is read as per cent'
        )
    value = float(match["number"]) / 100.0
    if not math.isfinite(value):
        raise QuantityError(f'"{text.strip()}" is too large for a percentage; write for example "15%"')
    return value


def _pick(value: float, units: tuple[tuple[str, float], ...]) -> str:
    """Format ``value`` (SI) with 3 significant digits in the largest unit that keeps it >= 1."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {_si_name(units)}"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for name, scale in units:
        scaled = float(f"{magnitude / scale:.3g}")
        if scaled >= 1:
            return f"{sign}{_digits(scaled)} {name}"
    name, scale = units[-1]
    return f"{sign}{_digits(float(f'{magnitude / scale:.3g}'))} {name}"


def _si_name(units: tuple[tuple[str, float], ...]) -> str:
    return next(name for name, scale in units if scale == 1.0)


def _digits(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}".replace(",", "")
    return f"{value:.3g}"


_ENERGY_FORMAT = (("GJ", 1e9), ("MJ", 1e6), ("kJ", 1e3), ("J", 1.0), ("mJ", 1e-3), ("µJ", 1e-6))
_CO2_FORMAT = (("t", 1e6), ("kg", 1e3), ("g", 1.0), ("mg", 1e-3), ("µg", 1e-6), ("ng", 1e-9))


def format_energy(energy_j: float) -> str:
    """Joules in a readable unit with 3 significant digits: "12.3 mJ", "4.5 kJ"."""
    return _pick(float(energy_j), _ENERGY_FORMAT)


def format_co2(co2_g: float) -> str:
    """Grams of CO2e in a readable unit with 3 significant digits: "7.2 mg", "1.5 kg" (no "CO2e")."""
    return _pick(float(co2_g), _CO2_FORMAT)


def format_quantity(value_si: float, kind: str) -> str:
    """A figure in its readable unit: "12.3 mJ", or for ``kind`` "co2" a CO2e mass "7.2 mg CO2e".

    Any other ``kind`` is an energy ("energy", and the comparison's metric "reference", which
    compares energy). The one place the reports, the budgets and the comparison format a figure of either kind.
    """
    if kind == "co2":
        return format_co2(value_si) + " CO2e"
    return format_energy(value_si)


def format_percent(fraction: float) -> str:
    """A fraction as a signed percentage: 0.153 -> "+15.3%"."""
    return f"{fraction * 100:+.1f}%"
