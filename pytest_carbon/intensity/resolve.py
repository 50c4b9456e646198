"""Resolution order of the region: explicit setting, cloud detection, then "unknown"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_carbon.intensity import tables
from pytest_carbon.intensity.regions import Region, RegionError, lookup, unknown_region

_WHERE = {
    "command line": "--carbon-region={code}",
    "ini": "carbon_region = {code} (ini file)",
    "environment": "PYTEST_CARBON_REGION={code}",
}


def _pue(options: Mapping[str, Any]) -> float | None:
    value = options.get("carbon_pue")
    if value in (None, ""):
        return None
    return float(value)


def resolve_region(options: Mapping[str, Any], environ: Mapping[str, str]) -> Region:
    """The region for this session: ``carbon_region``, else the detected cloud region, else unknown.

    Reads ``carbon_region`` and ``carbon_region_origin``, ``carbon_pue``, ``carbon_cloud_detect``,
    ``carbon_cloud_metadata`` and ``carbon_sys_root``; ``carbon_metadata_url`` (not a user option)
    points the metadata requests elsewhere in tests. Raises RegionError for an unknown explicit code.
    """
    pue = _pue(options)
    code = str(options.get("carbon_region") or "").strip()
    if code:
        origin = str(options.get("carbon_region_origin") or "command line")
        try:
            return lookup(code, source=origin, pue=pue)
        except RegionError as err:
            where = _WHERE.get(origin, "carbon_region={code}").format(code=code)
            raise RegionError(f"pytest-carbon: {where}: " + str(err).removeprefix("pytest-carbon: ")) from None
    if not options.get("carbon_cloud_detect", True):
        return unknown_region(pue, "cloud detection is turned off")
    # only here: a session with a given region never imports cloud detection
    from pytest_carbon.intensity.detect import METADATA_TIMEOUT_S, METADATA_URL, detect

    found = detect(
        environ,
        sys_root=str(options.get("carbon_sys_root") or "/"),
        metadata=bool(options.get("carbon_cloud_metadata", True)),
        metadata_url=str(options.get("carbon_metadata_url") or METADATA_URL),
        timeout_s=METADATA_TIMEOUT_S,
    )
    if found.provider and pue is None:
        pue = tables.providers()[found.provider].pue
    if found.provider and found.region:
        try:
            region = lookup(f"{found.provider}:{found.region}", source=f"cloud:{found.provider} {found.how}", pue=pue)
        except RegionError:
            reason = f"{found.provider}:{found.region} was detected but is not in the shipped table"
            return unknown_region(pue, reason)._replace(source=f"cloud:{found.provider} {found.how}")
        return region.with_note(found.note)
    return unknown_region(pue, found.note)
