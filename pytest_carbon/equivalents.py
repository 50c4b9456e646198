"""Tangible equivalents of a run's footprint, at a human scale, each with its source.

The car figure converts CO2e; the television and the household convert energy (kWh), since
their sources give energy use, not emissions.

Every place that shows equivalents (the terminal under ``-v``, the Markdown, the HTML page and the
dashboard) formats them here: three significant figures, in the unit that suits the size (mm, m or
km driven; seconds, minutes or hours of television; seconds, minutes, hours or days of a household's
electricity), never in scientific notation. A figure below a thousandth of the smallest unit is
written "less than 0.001 mm" rather than as a row of zeros. The sources are kept apart
(``SOURCES``, ``sources_text``) so that a page names each of them once, however many footprints
it shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_carbon.units import J_PER_KWH

#: US EPA, "Greenhouse Gas Emissions from a Typical Passenger Vehicle", EPA-420-F-23-014 (2023):
#: about 400 g CO2 per mile for an average US passenger vehicle.
CAR_G_PER_KM = 248.5
#: ADEME: 138 Wh a day at 6.5 hours of viewing, about 21.2 W while on.
TV_W = 138.0 / 6.5
#: US EIA, "How much electricity does an American home use?": 10,715 kWh a year (2020), 29.4 kWh a day.
HOUSEHOLD_KWH_PER_DAY = 29.4

#: where each factor comes from, by equivalent key
SOURCES: dict[str, str] = {
    "car_km": "car: US EPA, EPA-420-F-23-014 (2023), 248.5 g CO2 per km",
    "tv_hours": "television: ADEME, 138 Wh a day at 6.5 h of viewing (21.2 W)",
    "household_days": "household: US EIA, 10,715 kWh a year in 2020 (29.4 kWh a day)",
}

#: (singular, plural, size in the base unit), smallest first
_DISTANCE = (("mm", "mm", 1e-6), ("m", "m", 1e-3), ("km", "km", 1.0))
_TIME_S = (("second", "seconds", 1.0), ("minute", "minutes", 60.0), ("hour", "hours", 3600.0))
_TIME_S_DAYS = (*_TIME_S, ("day", "days", 86400.0))


@dataclass(frozen=True, slots=True)
class Equivalent:
    """One equivalent: ``value`` in the base ``unit``, at a human scale (``amount`` ``shown_unit``), its source.

    ``text`` is the sentence shown: "1.46 mm driven by an average US car".
    """

    key: str
    value: float
    unit: str
    amount: str
    shown_unit: str
    text: str
    source: str


def three_figures(value: float) -> str:
    """``value`` with three significant figures in plain decimal notation: 1.46, 0.0519, 12,300."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    exponent = math.floor(math.log10(abs(value)))
    rounded = round(value, 2 - exponent)
    # rounding can carry into the next power of ten (9.996 -> 10.0): count again
    if rounded != 0:
        exponent = math.floor(math.log10(abs(rounded)))
    decimals = max(0, 2 - exponent)
    return f"{rounded:,.{decimals}f}"


def human_scale(value: float, scales: tuple[tuple[str, str, float], ...]) -> tuple[str, str]:
    """(number, unit) for ``value`` (in the base unit of ``scales``): the largest unit that keeps it >= 1."""
    value = max(float(value), 0.0) if math.isfinite(value) else 0.0
    if value == 0:
        return "0", scales[0][1]
    chosen = scales[0]
    for scale in scales:
        if float(three_figures(value / scale[2]).replace(",", "")) >= 1:
            chosen = scale
    amount = value / chosen[2]
    if amount < 0.001:
        return "less than 0.001", chosen[1]
    text = three_figures(amount)
    return text, chosen[0] if text in ("1", "1.00") else chosen[1]


def equivalents(energy_j: float, co2_g: float) -> list[Equivalent]:
    """Distance by car (from CO2e), time of television and of a US household's electricity (from energy)."""
    car_km = max(co2_g, 0.0) / CAR_G_PER_KM
    tv_hours = max(energy_j, 0.0) / (TV_W * 3600.0)
    household_days = max(energy_j, 0.0) / J_PER_KWH / HOUSEHOLD_KWH_PER_DAY
    car = human_scale(car_km, _DISTANCE)
    tv = human_scale(tv_hours * 3600.0, _TIME_S)
    home = human_scale(household_days * 86400.0, _TIME_S_DAYS)
    return [
        Equivalent(
            "car_km", car_km, "km", car[0], car[1], f"{car[0]} {car[1]} driven by an average US car", SOURCES["car_km"]
        ),
        Equivalent("tv_hours", tv_hours, "h", tv[0], tv[1], f"{tv[0]} {tv[1]} of television", SOURCES["tv_hours"]),
        Equivalent(
            "household_days",
            household_days,
            "days",
            home[0],
            home[1],
            f"{home[0]} {home[1]} of an average US household's electricity",
            SOURCES["household_days"],
        ),
    ]


def equivalents_text(energy_j: float, co2_g: float) -> str:
    """The equivalents as one line, without their sources: "1.46 mm driven ...; 3.24 seconds of ..."."""
    return "; ".join(e.text for e in equivalents(energy_j, co2_g))


def sources_text() -> str:
    """The sources of every equivalent, for a page to show once."""
    return "; ".join(SOURCES.values())
