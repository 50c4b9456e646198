"""Tangible equivalents of a run's footprint, each with its source.

The car figure converts CO2e; the television and the household convert energy (kWh), since
their sources give energy use, not emissions.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_carbon.units import J_PER_KWH

#: US EPA, "Greenhouse Gas Emissions from a Typical Passenger Vehicle", EPA-420-F-23-014 (2023):
#: about 400 g CO2 per mile for an average US passenger vehicle.
CAR_G_PER_KM = 248.5
#: ADEME: 138 Wh a day at 6.5 hours of viewing, about 21.2 W while on.
TV_W = 138.0 / 6.5
#: US EIA, "How much electricity does an American home use?": 10,715 kWh a year (2020), 29.4 kWh a day.
HOUSEHOLD_KWH_PER_DAY = 29.4


@dataclass(frozen=True, slots=True)
class Equivalent:
    """One equivalent: ``value`` in ``unit``, a sentence, and where the factor comes from."""

    key: str
    value: float
    unit: str
    text: str
    source: str


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def equivalents(energy_j: float, co2_g: float) -> list[Equivalent]:
    """Distance by car (from CO2e), hours of television and days of a US household (from energy)."""
    car_km = max(co2_g, 0.0) / CAR_G_PER_KM
    tv_hours = max(energy_j, 0.0) / (TV_W * 3600.0)
    household_days = max(energy_j, 0.0) / J_PER_KWH / HOUSEHOLD_KWH_PER_DAY
    return [
        Equivalent(
            "car_km",
            car_km,
            "km",
            f"{_fmt(car_km)} km driven by an average US passenger car",
            "US EPA, EPA-420-F-23-014 (2023): 248.5 g CO2 per km",
        ),
        Equivalent(
            "tv_hours",
            tv_hours,
            "h",
            f"{_fmt(tv_hours)} hours of television",
            "ADEME: 138 Wh a day at 6.5 h of viewing (21.2 W)",
        ),
        Equivalent(
            "household_days",
            household_days,
            "days",
            f"{_fmt(household_days)} days of an average US household's electricity",
            "US EIA: 10,715 kWh a year in 2020, 29.4 kWh a day",
        ),
    ]
