"""Facts about the run gathered at start-up: probes, region, machine, project and git.

Everything here is cheap and offline: git facts come from files under ``.git`` (no
subprocess), the machine from the probe layer's cached detection.
"""

from __future__ import annotations

import os
import platform
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_carbon.probes.base import Probe, ProbeError
from pytest_carbon.probes.select import Selection, select_probes

if TYPE_CHECKING:
    from pytest_carbon.settings import Settings


def select(config: pytest.Config, settings: Settings) -> Selection:
    """Probes from the ``pytest_carbon_probes`` hook if one answers, else the plugin's choice."""
    supplied = config.hook.pytest_carbon_probes(config=config)
    if supplied is not None:
        started: list[Probe] = []
        problems: list[str] = []
        for probe in supplied:
            try:
                probe.start()
            except ProbeError as err:
                problems.append(f"probe {probe.name} unavailable: {err}")
                continue
            started.append(probe)
        return Selection(started, problems)
    return select_probes(settings.probe, os.environ, rapl_root=settings.rapl_root, rapl_psys=settings.rapl_psys)


def resolve_region(settings: Settings, given: Mapping[str, Any] | None = None) -> Any:
    """The region and its intensity; its ``note`` says what went wrong (e.g. a live service).

    ``given`` is a region already resolved elsewhere (an xdist worker gets the controller's).
    """
    if given is not None:
        from pytest_carbon.intensity.regions import Region

        return Region(**given)
    from pytest_carbon.intensity.resolve import resolve_region as resolve

    region = resolve(
        os.environ,
        code=settings.region,
        origin=settings.origin("carbon_region"),
        pue=settings.pue,
        cloud_detect=settings.cloud_detect,
        sys_root=settings.sys_root,
        metadata=settings.cloud_metadata,
    )
    if settings.live != "off":
        from pytest_carbon.intensity.live import apply_live  # network code: only when live data is on

        region = apply_live(
            region,
            os.environ,
            service=settings.live,
            url=settings.live_url,
            uk_postcode=settings.uk_postcode,
            cache_s=settings.live_cache_s,
            cache_dir=settings.cache_dir,
        )
    return region


def machine_facts(probe_descriptions: list[dict[str, Any]]) -> dict[str, Any]:
    """The machine block of the report."""
    cpu_model: str | None = None
    threads = os.cpu_count() or 1
    ram_gb: float | None = None
    try:
        from pytest_carbon.probes.cpuinfo import this_machine

        spec = this_machine()
        cpu_model, threads, ram_gb = spec.cpu_model, spec.threads, spec.ram_gb
    except Exception:  # machine facts are informative; never break the run for them
        cpu_model = platform.processor() or None
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model,
        "threads": threads,
        "ram_gb": ram_gb,
        "os": platform.system(),
        "python": platform.python_version(),
        "probes": probe_descriptions,
    }


def _git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():  # worktree or submodule: "gitdir: PATH"
            text = candidate.read_text(errors="replace").strip()
            if text.startswith("gitdir:"):
                return (folder / text.split(":", 1)[1].strip()).resolve()
    return None


def git_facts(root: Path, environ: Mapping[str, str]) -> dict[str, str | None]:
    """Commit and branch, from CI variables first (CI checkouts are often detached), else .git."""
    commit = environ.get("GITHUB_SHA") or environ.get("CI_COMMIT_SHA") or environ.get("GIT_COMMIT")
    branch = (
        environ.get("GITHUB_HEAD_REF")
        or environ.get("GITHUB_REF_NAME")
        or environ.get("CI_COMMIT_REF_NAME")
        or environ.get("BRANCH_NAME")
        or environ.get("GIT_BRANCH")
    )
    if commit and branch:
        return {"commit": commit, "branch": branch}
    try:
        git = _git_dir(root)
        if git is not None:
            head = (git / "HEAD").read_text().strip()
            if head.startswith("ref:"):
                ref = head.split(":", 1)[1].strip()
                branch = branch or ref.removeprefix("refs/heads/")
                common = git
                commondir = git / "commondir"
                if commondir.is_file():
                    common = (git / commondir.read_text().strip()).resolve()
                ref_file = common / ref
                if ref_file.is_file():
                    commit = commit or ref_file.read_text().strip()
                elif (common / "packed-refs").is_file():
                    for line in (common / "packed-refs").read_text().splitlines():
                        if line.endswith(" " + ref):
                            commit = commit or line.split()[0]
            else:
                commit = commit or head
    except OSError:
        pass
    return {"commit": commit or None, "branch": branch or None}


def ci_facts(environ: Mapping[str, str]) -> dict[str, Any]:
    """Which CI service ran the tests, with its run identifiers where present."""
    if environ.get("GITHUB_ACTIONS") == "true":
        return {
            "provider": "github",
            "run_id": environ.get("GITHUB_RUN_ID"),
            "job": environ.get("GITHUB_JOB"),
            "repository": environ.get("GITHUB_REPOSITORY"),
        }
    if environ.get("GITLAB_CI") == "true":
        return {
            "provider": "gitlab",
            "run_id": environ.get("CI_PIPELINE_ID"),
            "job": environ.get("CI_JOB_NAME"),
            "repository": environ.get("CI_PROJECT_PATH"),
        }
    if environ.get("JENKINS_URL"):
        return {
            "provider": "jenkins",
            "run_id": environ.get("BUILD_ID"),
            "job": environ.get("JOB_NAME"),
            "repository": None,
        }
    return {"provider": None}


_NAME_RE = re.compile(r'^\s*name\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)


def project_name(root: Path, override: str | None = None) -> str:
    """The project's name: the option, else pyproject.toml's [project] name, else the folder."""
    if override:
        return override
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return root.name
    section = text.split("[project]", 1)
    if len(section) == 2:
        body = section[1].split("\n[", 1)[0]
        match = _NAME_RE.search(body)
        if match:
            return match.group(1)
    return root.name


def selection_signature(nodeids: Any) -> str:
    """A short signature of a set of node ids (order does not matter): which tests a run ran."""
    import hashlib

    return hashlib.sha256("\n".join(sorted(nodeids)).encode("utf-8", "surrogateescape")).hexdigest()[:16]
