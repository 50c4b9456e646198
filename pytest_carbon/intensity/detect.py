"""Which cloud, and which region, the tests run in: environment, firmware (DMI), metadata service.

No geo-IP service is ever asked. The metadata service is asked only when the firmware names the
provider, so a laptop or an on-premises runner makes no network call at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit

if TYPE_CHECKING:
    pass

#: Region variables, per provider, with why each is trusted.
#: AWS_REGION: set by Lambda, CodeBuild, ECS/Fargate tasks; AWS_DEFAULT_REGION: CodeBuild and the CLI.
#: FUNCTION_REGION: Cloud Functions (older runtimes); GOOGLE_CLOUD_REGION: conventional name set by
#: Google Cloud's own buildpacks and many deployments. REGION_NAME: Azure App Service and Functions.
#: A developer's shell often exports AWS_REGION for the SDK, so a variable is believed only when the
#: firmware is unreadable (containers, serverless) or names the same provider.
REGION_VARIABLES: tuple[tuple[str, str], ...] = (
    ("aws", "AWS_REGION"),
    ("aws", "AWS_DEFAULT_REGION"),
    ("gcp", "GOOGLE_CLOUD_REGION"),
    ("gcp", "FUNCTION_REGION"),
    ("azure", "REGION_NAME"),
)

DMI_FILES = ("sys_vendor", "product_name", "product_version", "bios_vendor", "bios_version", "chassis_asset_tag")
#: Azure VMs carry this chassis asset tag; plain Hyper-V guests do not.
AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"

METADATA_URL = "http://169.254.169.254"
METADATA_TIMEOUT_S = 0.3


class Detection(NamedTuple):
    """The outcome of cloud detection: a provider and region code, or a reason there is none."""

    provider: str | None = None
    region: str | None = None  # provider's own spelling, e.g. "eu-west-1", "westeurope"
    how: str | None = None  # "env AWS_REGION", "metadata", ...
    note: str | None = None


def read_dmi(sys_root: str | Path = "/") -> dict[str, str] | None:
    """The DMI identification strings, lower case; None when the firmware tables are not readable."""
    folder = Path(sys_root) / "sys" / "class" / "dmi" / "id"
    values: dict[str, str] = {}
    for name in DMI_FILES:
        try:
            values[name] = (folder / name).read_text(encoding="utf-8", errors="replace").strip().lower()
        except OSError:
            continue
    return values or None


def provider_from_dmi(dmi: Mapping[str, str]) -> str | None:
    """aws, gcp or azure when the firmware names that cloud; None for any other machine."""
    vendor = dmi.get("sys_vendor", "")
    if "amazon" in vendor or "amazon" in dmi.get("bios_version", "") or "amazon" in dmi.get("product_version", ""):
        return "aws"
    if vendor == "google" or dmi.get("product_name", "") == "google compute engine":
        return "gcp"
    if dmi.get("chassis_asset_tag", "") == AZURE_ASSET_TAG:
        return "azure"
    return None


def _normalise_region(provider: str, value: str) -> str:
    text = value.strip().lower()
    if provider == "azure":
        text = text.replace(" ", "")
    return text


def detect(
    environ: Mapping[str, str],
    sys_root: str | Path = "/",
    metadata: bool = True,
    metadata_url: str = METADATA_URL,
    timeout_s: float = METADATA_TIMEOUT_S,
) -> Detection:
    """Find the cloud region: region variables, then DMI, then that provider's metadata service."""
    dmi = read_dmi(sys_root)
    firmware = provider_from_dmi(dmi) if dmi is not None else None
    ignored: list[str] = []
    for provider, variable in REGION_VARIABLES:
        value = environ.get(variable, "").strip()
        if not value:
            continue
        if dmi is None or firmware == provider:
            return Detection(provider, _normalise_region(provider, value), f"env {variable}")
        ignored.append(f"{variable}={value} was ignored: this machine's firmware is not {provider.upper()}'s")
    note = "; ".join(ignored) or None
    if firmware is None:
        return Detection(note=note)
    if not metadata:
        why = f"the firmware says {firmware.upper()} but asking its metadata service is turned off"
        return Detection(provider=firmware, note=why)
    import http.client  # only on a cloud machine

    deadline = time.monotonic() + min(timeout_s, METADATA_TIMEOUT_S)
    try:
        region = ask_metadata(firmware, metadata_url, deadline)
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError) as err:
        why = (
            f"the firmware says {firmware.upper()} but its metadata service gave no region within "
            f"{min(timeout_s, METADATA_TIMEOUT_S) * 1000:.0f} ms ({type(err).__name__})"
        )
        return Detection(provider=firmware, note=why)
    return Detection(firmware, _normalise_region(firmware, region), "metadata")


def _request(
    url: str, path: str, deadline: float, method: str = "GET", headers: Mapping[str, str] | None = None
) -> str:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("metadata deadline passed")
    import http.client

    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"metadata URL must be http://host[:port], not {url!r}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=remaining)
    try:
        conn.request(method, parts.path.rstrip("/") + path, headers=dict(headers or {}))
        response = conn.getresponse()
        body = response.read(65536).decode("utf-8", errors="replace")
    finally:
        conn.close()
    if response.status != 200:
        raise ValueError(f"HTTP {response.status}")
    return body.strip()


def ask_metadata(provider: str, url: str, deadline: float) -> str:
    """The region as the provider's instance metadata service states it; raises on any failure."""
    if provider == "aws":
        token = _request(url, "/latest/api/token", deadline, "PUT", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        region = _request(
            url, "/latest/meta-data/placement/region", deadline, headers={"X-aws-ec2-metadata-token": token}
        )
    elif provider == "gcp":
        zone = _request(url, "/computeMetadata/v1/instance/zone", deadline, headers={"Metadata-Flavor": "Google"})
        # "projects/123/zones/europe-west1-b" -> "europe-west1"
        region = zone.rsplit("/", 1)[-1].rsplit("-", 1)[0]
    elif provider == "azure":
        text = _request(
            url, "/metadata/instance/compute?api-version=2021-02-01", deadline, headers={"Metadata": "true"}
        )
        region = str(json.loads(text)["location"])
    else:
        raise ValueError(f"no metadata service known for {provider}")
    if not region or len(region) > 64:
        raise ValueError("empty or implausible region")
    return region
