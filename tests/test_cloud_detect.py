"""Cloud detection: region variables, firmware (DMI) files in tmp_path, metadata servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from loopback import serve, silent_port

from pytest_carbon.intensity import resolve_region
from pytest_carbon.intensity.detect import AZURE_ASSET_TAG, detect, provider_from_dmi, read_dmi

PHYSICAL = {"sys_vendor": "LENOVO", "product_name": "20XW0055GE", "bios_vendor": "LENOVO"}
AWS = {"sys_vendor": "Amazon EC2", "product_name": "m6i.large", "bios_vendor": "Amazon EC2"}
GCP = {"sys_vendor": "Google", "product_name": "Google Compute Engine", "bios_vendor": "Google"}
AZURE = {"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine", "chassis_asset_tag": AZURE_ASSET_TAG}
HYPERV = {"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine", "chassis_asset_tag": "none"}


def dmi_tree(root: Path, values: dict[str, str]) -> Path:
    folder = root / "sys" / "class" / "dmi" / "id"
    folder.mkdir(parents=True)
    for name, value in values.items():
        (folder / name).write_text(value + "\n", encoding="utf-8")
    return root


class Metadata(BaseHTTPRequestHandler):
    """Answers as the three providers' instance metadata services do, and counts the requests."""

    hits: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        self.hits.append("PUT " + self.path)
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._send(200, "TOKEN123")
        else:
            self._send(400, "")

    def do_GET(self) -> None:
        self.hits.append("GET " + self.path)
        if self.path == "/latest/meta-data/placement/region":
            ok = self.headers.get("X-aws-ec2-metadata-token") == "TOKEN123"
            self._send(200 if ok else 401, "eu-west-1" if ok else "")
        elif self.path == "/computeMetadata/v1/instance/zone" and self.headers.get("Metadata-Flavor") == "Google":
            self._send(200, "projects/123456/zones/europe-west1-b")
        elif self.path.startswith("/metadata/instance/compute") and self.headers.get("Metadata") == "true":
            self._send(200, json.dumps({"location": "westeurope", "vmSize": "Standard_D2s_v3"}))
        else:
            self._send(404, "")


@pytest.fixture
def metadata_url() -> Iterator[str]:
    Metadata.hits = []
    with serve(Metadata) as base:
        yield base


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with silent_port() as base:
        yield base


def options(root: Path, url: str = "http://127.0.0.1:9", **extra: Any) -> dict[str, Any]:
    return {"sys_root": str(root), "metadata_url": url, **extra}


@pytest.mark.parametrize(
    ("values", "provider"),
    [(PHYSICAL, None), (AWS, "aws"), (GCP, "gcp"), (AZURE, "azure"), (HYPERV, None)],
)
def test_provider_from_firmware(tmp_path: Path, values: dict[str, str], provider: str | None) -> None:
    dmi = read_dmi(dmi_tree(tmp_path, values))
    assert dmi is not None
    assert provider_from_dmi(dmi) == provider


def test_no_firmware_files_means_no_dmi(tmp_path: Path) -> None:
    assert read_dmi(tmp_path) is None


def test_physical_machine_is_unknown_without_any_request(tmp_path: Path, metadata_url: str) -> None:
    region = resolve_region({}, **options(dmi_tree(tmp_path, PHYSICAL), metadata_url))
    assert not region.known and region.source == "unknown"
    assert region.intensity_g_per_kwh == 458.29 and region.table == "world" and region.code is None
    assert "--carbon-region=CODE" in (region.note or "")
    assert "PYTEST_CARBON_REGION" in (region.note or "")
    assert Metadata.hits == []


def test_region_variable_in_a_container_without_firmware(tmp_path: Path) -> None:
    region = resolve_region({"AWS_REGION": "eu-west-1"}, **options(tmp_path))
    assert region.code == "aws:eu-west-1"
    assert region.source == "cloud:aws env AWS_REGION"
    assert region.pue == 1.14


def test_azure_region_name_variable(tmp_path: Path) -> None:
    region = resolve_region({"REGION_NAME": "West Europe"}, **options(dmi_tree(tmp_path, AZURE)))
    assert region.code == "azure:westeurope" and region.source == "cloud:azure env REGION_NAME"


def test_region_variable_on_a_laptop_is_not_believed(tmp_path: Path) -> None:
    region = resolve_region({"AWS_REGION": "us-east-1"}, **options(dmi_tree(tmp_path, PHYSICAL)))
    assert not region.known
    assert "AWS_REGION=us-east-1 was ignored" in (region.note or "")


def test_explicit_region_wins_over_detection(tmp_path: Path) -> None:
    opts = options(tmp_path, code="SE-SE3", origin="command line")
    region = resolve_region({"AWS_REGION": "eu-west-1"}, **opts)
    assert region.code == "SE-SE3" and region.source == "command line"


@pytest.mark.parametrize(
    ("values", "code", "pue"),
    [(AWS, "aws:eu-west-1", 1.14), (GCP, "gcp:europe-west1", 1.10), (AZURE, "azure:westeurope", 1.185)],
)
def test_metadata_service_names_the_region(
    tmp_path: Path, metadata_url: str, values: dict[str, str], code: str, pue: float
) -> None:
    region = resolve_region({}, **options(dmi_tree(tmp_path, values), metadata_url))
    assert region.code == code
    assert region.source == f"cloud:{code.split(':')[0]} metadata"
    assert region.pue == pue and region.known


def test_metadata_can_be_turned_off(tmp_path: Path, metadata_url: str) -> None:
    region = resolve_region({}, **options(dmi_tree(tmp_path, GCP), metadata_url, metadata=False))
    assert not region.known and Metadata.hits == []
    assert "turned off" in (region.note or "")
    assert region.pue == 1.10  # the provider is known even if the region is not


def test_detection_can_be_turned_off(tmp_path: Path) -> None:
    region = resolve_region({"AWS_REGION": "eu-west-1"}, **options(tmp_path, cloud_detect=False))
    assert not region.known


def test_silent_metadata_service_costs_at_most_the_timeout(tmp_path: Path, silent_url: str) -> None:
    start = time.perf_counter()
    region = resolve_region({}, **options(dmi_tree(tmp_path, AWS), silent_url))
    elapsed_s = time.perf_counter() - start
    assert elapsed_s < 0.3 + 0.1
    assert not region.known
    assert "300 ms" in (region.note or "")


def test_refused_connection_falls_back(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    region = resolve_region({}, **options(dmi_tree(tmp_path, AZURE), f"http://127.0.0.1:{port}"))
    assert not region.known and "AZURE" in (region.note or "")


def test_detected_region_missing_from_the_table(tmp_path: Path) -> None:
    region = resolve_region({"AWS_REGION": "xx-nowhere-9"}, **options(tmp_path))
    assert not region.known and "xx-nowhere-9" in (region.note or "")
    assert region.source == "cloud:aws env AWS_REGION"


def test_direct_detect_reports_provider_without_region(tmp_path: Path, silent_url: str) -> None:
    found = detect({}, dmi_tree(tmp_path, GCP), metadata=True, metadata_url=silent_url, timeout_s=0.05)
    assert found.provider == "gcp" and found.region is None
