"""Error bands: how far off a probe's figures may be, as a relative error at P50 and P90.

The power model's bands come from its held-out validation (``power_model.json``, see
docs/method.md). Counters carry their own: NVIDIA states NVML's board power reading as accurate to
within ±5 % on Fermi and Kepler GPUs and gives no figure for newer ones; no cited source gives a
figure for RAPL's package and DRAM counters, so their band is left unquantified (None) rather
than invented. A session's band is the energy-weighted mean of its components' bands: the bound
for errors that all lean the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Band(NamedTuple):
    """Relative error of a figure: half the absolute errors are within p50_pct, nine in ten within p90_pct."""

    p50_pct: float | None
    p90_pct: float | None
    basis: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"p50_pct": self.p50_pct, "p90_pct": self.p90_pct, "basis": self.basis}


MEASURED: dict[str, Band] = {
    "nvml": Band(
        5.0,
        5.0,
        "NVIDIA's NVML documentation (nvmlDeviceGetPowerUsage): within ±5 % on Fermi and Kepler GPUs; "
        "no figure for newer GPUs",
    ),
    "rapl": Band(
        None,
        None,
        "not quantified: no cited figure for RAPL's package and DRAM counters; they leave out the rest "
        "of the machine (board, fans, power supply)",
    ),
}


def band_of(desc: dict[str, Any]) -> dict[str, Any] | None:
    """The band a probe description carries, or the counter's own band by its name."""
    if isinstance(desc.get("band"), dict):
        return dict(desc["band"])
    known = MEASURED.get(str(desc.get("name")))
    return known.as_dict() if known else None


def combined(probes: list[dict[str, Any]], components_j: dict[str, float]) -> dict[str, Any] | None:
    """The session's band: each component's energy weighted by the band of the probe that covered it."""
    weights: dict[str, float] = {"p50_pct": 0.0, "p90_pct": 0.0}
    quantified = 0.0
    unquantified: list[str] = []
    for component, energy_j in components_j.items():
        if energy_j <= 0:
            continue
        covering = [p for p in probes if component in p.get("components", []) and not p.get("error")]
        covering = covering or [p for p in probes if component in p.get("components", [])]
        if not covering:
            continue
        band = band_of(covering[0]) or {}
        if band.get("p50_pct") is None or band.get("p90_pct") is None:
            unquantified.append(str(covering[0].get("name")))
            continue
        quantified += energy_j
        weights["p50_pct"] += energy_j * float(band["p50_pct"])
        weights["p90_pct"] += energy_j * float(band["p90_pct"])
    if quantified <= 0 and not unquantified:
        return None
    return {
        "p50_pct": round(weights["p50_pct"] / quantified, 2) if quantified > 0 else None,
        "p90_pct": round(weights["p90_pct"] / quantified, 2) if quantified > 0 else None,
        "unquantified": sorted(set(unquantified)),
        "basis": "energy-weighted mean of the bands of the probes that covered each component",
    }


def band_text(band: Any) -> str:
    """The P90 band of a figure as text (" ± 34 %"), "" when there is none or it is not quantified."""
    if not isinstance(band, dict) or band.get("p90_pct") is None:
        return ""
    return f" ± {float(band['p90_pct']):.0f} %"


def probe_band_text(desc: dict[str, Any]) -> str:
    """A probe's band as text (", ±13 % P50, ±34 % P90"), or ", band not quantified" for a counter."""
    band = band_of(desc)
    if band is None:
        return ""
    if band.get("p50_pct") is None or band.get("p90_pct") is None:
        return ", band not quantified"
    return f", ±{float(band['p50_pct']):.0f} % P50, ±{float(band['p90_pct']):.0f} % P90"
