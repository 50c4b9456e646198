"""The layering checks: tools/check_import_cycles.py, and the import-linter contracts of pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import check_import_cycles as checker  # noqa: E402


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``tmp_path`` made of ``files`` (path in the package -> source)."""
    root = tmp_path / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def _cycles(root: Path) -> list[list[str]]:
    return checker.cycles(checker.import_graph(checker.module_names(root)))


def test_a_module_level_cycle_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {"a.py": "import pkg.b\n", "b.py": "from pkg import a\n"})
    assert _cycles(root) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_an_import_inside_a_function_counts(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from pkg.b import f\n",
            "b.py": "def f():\n    from pkg.c import g\n    return g\n",
            "c.py": "class C:\n    def m(self):\n        from pkg.a import X\n",
        },
    )
    assert _cycles(root) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_an_import_under_type_checking_does_not_count_but_its_else_does(tmp_path: Path) -> None:
    lazy = textwrap.dedent("""\
        import typing
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from pkg.b import B
        if typing.TYPE_CHECKING:
            import pkg.b
        """)
    root = _package(tmp_path, {"a.py": lazy, "b.py": "import pkg.a\n"})
    assert _cycles(root) == []
    root = _package(tmp_path / "other", {"a.py": lazy + "else:\n    import pkg.b\n", "b.py": "import pkg.a\n"})
    assert _cycles(root) == [["pkg.a", "pkg.b", "pkg.a"]]


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "sub/__init__.py": "",
            "sub/x.py": "from . import y\n",
            "sub/y.py": "from ..top import T\n",
            "top.py": "from .sub.x import X\n",
        },
    )
    assert _cycles(root) == [["pkg.sub.x", "pkg.sub.y", "pkg.top", "pkg.sub.x"]]


def test_a_package_init_and_its_own_module_make_a_cycle_when_each_imports_the_other(tmp_path: Path) -> None:
    # the registry importing a renderer lazily, the renderer importing the registry's shared text
    root = _package(
        tmp_path,
        {
            "reports/__init__.py": "def write():\n    from pkg.reports.html import w\n",
            "reports/html.py": "from pkg.reports import text\n",
        },
    )
    assert _cycles(root) == [["pkg.reports", "pkg.reports.html", "pkg.reports"]]


def test_a_package_that_re_exports_its_module_is_no_cycle(tmp_path: Path) -> None:
    # Python runs pkg/reports/__init__.py before pkg/reports/text.py: that implied import is no edge
    root = _package(
        tmp_path,
        {"reports/__init__.py": "from pkg.reports.text import t as t\n", "reports/text.py": "import os\n"},
    )
    assert _cycles(root) == []


def test_each_strongly_connected_group_is_reported_once_with_a_shortest_cycle(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "import pkg.b\nimport pkg.d\n",
            "b.py": "import pkg.c\n",
            "c.py": "import pkg.a\n",
            "d.py": "import pkg.a\n",
            "x.py": "import pkg.y\n",
            "y.py": "import pkg.x\nimport os, json\n",
        },
    )
    assert _cycles(root) == [["pkg.a", "pkg.d", "pkg.a"], ["pkg.x", "pkg.y", "pkg.x"]]


def test_the_command_exits_1_on_a_cycle_0_without_and_2_without_a_package(tmp_path: Path) -> None:
    script = ROOT / "tools" / "check_import_cycles.py"
    cyclic = _package(tmp_path / "c", {"a.py": "import pkg.b\n", "b.py": "import pkg.a\n"})
    clean = _package(tmp_path / "n", {"a.py": "import pkg.b\n", "b.py": "import os\n"})

    def run(*args: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True)

    found = run(cyclic)
    assert found.returncode == 1 and found.stdout == "import cycle: pkg.a -> pkg.b -> pkg.a\n"
    assert run(clean).returncode == 0
    assert run(tmp_path).returncode == 2


def test_the_package_has_no_import_cycle() -> None:
    assert _cycles(ROOT / "pytest_carbon") == []


# -------------------------------------------------------------------------------- the contracts

#: what a renderer may import besides its own package (the contract's comment in pyproject.toml says why)
RENDERERS_MAY_IMPORT = {
    "pytest_carbon",
    "pytest_carbon.model",
    "pytest_carbon.units",
    "pytest_carbon.errors",
    "pytest_carbon.outputs",
    "pytest_carbon.equivalents",
    "pytest_carbon.advice",
    "pytest_carbon.intensity",
    "pytest_carbon.intensity.tables",
    "pytest_carbon.probes",
    "pytest_carbon.probes.bands",
}
STORE_MAY_IMPORT = {
    "pytest_carbon",
    "pytest_carbon.model",
    "pytest_carbon.units",
    "pytest_carbon.errors",
    "pytest_carbon.outputs",
}


def _contract(name_start: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (found,) = [c for c in config["contracts"] if c["name"].startswith(name_start)]
    return found


@pytest.mark.parametrize(
    ("name_start", "source", "allowed"),
    [
        ("renderers import only", "pytest_carbon.reports", RENDERERS_MAY_IMPORT),
        ("the store imports only", "pytest_carbon.store", STORE_MAY_IMPORT),
    ],
)
def test_every_module_is_either_allowed_or_forbidden(name_start: str, source: str, allowed: set[str]) -> None:
    # a module added to the package must be classified: a forbidden contract lists what it forbids
    contract = _contract(name_start)
    forbidden = contract["forbidden_modules"]
    assert isinstance(forbidden, list) and contract["source_modules"] == [source]

    def covered(module: str) -> bool:
        return any(module == f or module.startswith(f + ".") for f in forbidden)

    modules = set(checker.module_names(ROOT / "pytest_carbon"))
    unclassified = {m for m in modules if not m.startswith(source) and m not in allowed and not covered(m)}
    assert unclassified == set()
    assert not any(covered(m) for m in allowed), "a module is both allowed and forbidden"


def test_the_renderers_and_the_store_import_only_what_their_contracts_allow() -> None:
    # the same rule read from the source with this checker's graph (direct imports), as a cross-check of lint-imports
    graph = checker.import_graph(checker.module_names(ROOT / "pytest_carbon"))
    for source, allowed in (("pytest_carbon.reports", RENDERERS_MAY_IMPORT), ("pytest_carbon.store", STORE_MAY_IMPORT)):
        for module, targets in graph.items():
            if module == source or module.startswith(source + "."):
                outside = {t for t in targets if not t.startswith(source) and t not in allowed}
                assert outside == set(), f"{module} imports {sorted(outside)}"
