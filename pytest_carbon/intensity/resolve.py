"""Resolution order of the region: explicit setting, cloud detection, then "unknown"."""

from __future__ import annotations

from collections.abc import Mapping

from pytest_carbon.intensity import tables
from pytest_carbon.intensity.regions import Region, RegionError, lookup, unknown_region

_WHERE = {
    "command line": "--carbon-region={code}",
    "ini": "carbon_region = {code} (ini file)",
    "environment": "PYTEST_CARBON_REGION={code}",
}


def resolve_region(
    environ: Mapping[str, str],
    *,
    code: str | None = None,
    origin: str = "command line",
    pue: float | None = None,
    cloud_detect: bool = True,
    sys_root: str | None = None,
    metadata: bool = True,
    metadata_url: str | None = None,
) -> Region:
    """The region for this session: ``code``, else the detected cloud region, else unknown.

    ``code`` and ``origin`` (where the code was given: "command line", "ini", "environment"),
    ``pue``, ``cloud_detect``, ``metadata`` (ask the cloud's metadata service) and ``sys_root``
    (None: /) are the options carbon_region, carbon_pue, carbon_cloud_detect, carbon_cloud_metadata
    and carbon_sys_root; ``metadata_url`` (not a user option) points the metadata requests
    elsewhere in tests. Raises RegionError for an unknown explicit code.
    """
    code = (code or "").strip()
    if code:
        try:
            return lookup(code, source=origin, pue=pue)
        except RegionError as err:
            where = _WHERE.get(origin, "carbon_region={code}").format(code=code)
            raise RegionError(f"pytest-carbon: {where}: " + str(err).removeprefix("pytest-carbon: ")) from None
    if not cloud_detect:
        return unknown_region(pue, "cloud detection is turned off")
    # only here: a session with a given region never imports cloud detection
    from pytest_carbon.intensity.detect import METADATA_TIMEOUT_S, METADATA_URL, detect

    found = detect(
        environ,
        sys_root=sys_root or "/",
        metadata=metadata,
        metadata_url=metadata_url or METADATA_URL,
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
