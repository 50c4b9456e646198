"""Fail on any import cycle between the modules of a package (run in CI beside ``lint-imports``).

import-linter's ``acyclic_siblings`` contract finds cycles between sibling packages and modules,
not a cycle through a package's ``__init__`` and one of its own modules (``reports/__init__.py``
importing ``reports/html.py`` inside a function, which imports ``reports/__init__.py``). This
script builds the graph of the package's imports from the source, without importing it:

- every ``import`` and ``from ... import`` statement counts, at module level and inside functions
  (a lazy import is still a dependency: it runs as soon as the function is called);
- an import under ``if TYPE_CHECKING:`` does not count (it never runs);
- ``from package import name`` is an edge to ``package.name`` where that is a module of the
  package, to ``package`` otherwise; relative imports are resolved;
- importing ``a.b.c`` is an edge to ``a.b.c`` only, not to ``a`` and ``a.b`` (whose ``__init__``
  Python runs first): as in import-linter's graph, a package's ``__init__`` that re-exports one
  of its modules is no cycle.

Usage: ``python tools/check_import_cycles.py [SOURCE_FOLDER ...]`` (default: ``pytest_carbon``).
Exit status 0 without a cycle, 1 with one (each cycle printed as ``a -> b -> a``), 2 on a usage error.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path


def module_names(root: Path) -> dict[str, Path]:
    """Every module under the package folder ``root``, by its dotted name."""
    modules: dict[str, Path] = {}
    base = root.parent
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of ``tree`` at any depth, less those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # the ``else:`` of ``if TYPE_CHECKING:`` does run
                yield from _imports_of_statement(child)
            continue
        yield from _imports_of_statement(node)


def _imports_of_statement(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def _base_of(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module name a ``from ... import`` statement imports from."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    if node.level > 1:
        package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """For each module, the modules of ``modules`` it imports."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = _base_of(node, name, path.name == "__init__.py")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle (``[a, b, a]``) for each strongly connected group of modules that has one.

    Tarjan's algorithm, without recursion; in a group, the cycle shown is the shortest one through
    its first module in name order, found by a breadth-first search inside the group.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return [_shortest_cycle(graph, group) for group in sorted(groups)]


def _shortest_cycle(graph: Mapping[str, Iterable[str]], group: list[str]) -> list[str]:
    members = set(group)
    first = group[0]
    came_from: dict[str, str] = {}
    frontier = [first]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child not in members:
                    continue
                if child == first:
                    path = [node]
                    while path[-1] != first:
                        path.append(came_from[path[-1]])
                    return [first, *reversed(path[:-1]), first]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {first} in its own strongly connected group")  # pragma: no cover


def main(argv: list[str] | None = None) -> int:
    folders = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)] or [Path("pytest_carbon")]
    status = 0
    for folder in folders:
        if not (folder / "__init__.py").is_file():
            print(f"{folder}: not a package folder (no __init__.py)", file=sys.stderr)
            return 2
        graph = import_graph(module_names(folder))
        found = cycles(graph)
        for cycle in found:
            print(f"import cycle: {' -> '.join(cycle)}")
        if found:
            status = 1
        else:
            print(f"{folder}: {len(graph)} modules, no import cycle")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
