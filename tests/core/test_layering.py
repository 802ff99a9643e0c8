"""The apps stay layered: core at the bottom, then accounts and jobs, then the feature apps; no import cycle between
apps. Read from the source with `ast` (nothing imported), counting every import: module-level, inside functions
(a function-local import hides a cycle from Python, not from a reader) and under `if TYPE_CHECKING:`.

A new module that breaks the layering fails here with the file and line of the import. KNOWN lists the edges that
break it today, each with what it is waiting for; the test also fails when a known edge is gone, so the list only
shrinks (take the entry out)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parents[2] / "apps"

# The lower the layer, the fewer apps it may know about. An app imports only apps of its own layer or below, and the
# graph has no cycle (jobs imports accounts, so accounts never imports jobs). A new feature app is layer 2 by default;
# so is workspace, the shell around the modules (home, navigation, notifications, API root, health pages).
LAYERS = {"core": 0, "accounts": 1, "jobs": 1}
FEATURE = 2

# Edges that break the layering today: (importer, imported) -> what removing them waits for.
KNOWN: dict[tuple[str, str], str] = {}


# Plain libraries housed in an app's folder: no Django, no app code, so every app may import them (they sit below
# core). The Canvas engine stays at apps/automl/engine because stored models are pickles naming its classes there;
# registry, endpoints and unsupervised serve and reuse it. test_libraries_import_no_app_and_no_django keeps it plain.
# Clarify's engine (bias metrics, explanations, mitigations) reads Canvas models, so it may import the Canvas engine
# (an earlier entry here), never the other way round.
LIBRARIES = {"apps.automl.engine": "automl.engine", "apps.clarify.engine": "clarify.engine"}


def layer(app: str) -> int:
    return -1 if app in LIBRARIES.values() else LAYERS.get(app, FEATURE)


def node(module: str) -> str | None:
    """The graph node of an imported module: a library, an app, or None (not ours)."""
    for prefix, name in LIBRARIES.items():
        if module == prefix or module.startswith(prefix + "."):
            return name
    parts = module.split(".")
    return parts[1] if parts[0] == "apps" and len(parts) > 1 else None


def _imports(tree: ast.AST, package: str = "") -> list[tuple[str, int]]:
    """(absolute module, line) of every import in `tree`; relative ones resolved against `package`."""
    found = []
    for item in ast.walk(tree):
        if isinstance(item, ast.Import):
            found += [(alias.name, item.lineno) for alias in item.names]
        elif isinstance(item, ast.ImportFrom):
            if item.level == 0:
                module = item.module or ""
            else:
                base = package.split(".")[: len(package.split(".")) - (item.level - 1)]
                module = ".".join([*base, *([item.module] if item.module else [])])
            # `from apps.automl import engine` imports apps.automl.engine: name each imported member
            found += [(f"{module}.{alias.name}", item.lineno) for alias in item.names]
    return found


def app_imports() -> dict[tuple[str, str], list[str]]:
    """(importer app, imported app) -> the `path:line` of each import, over apps/*/ (migrations left out: they are
    generated and name other apps' migrations by string)."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(APPS.rglob("*.py")):
        relative = path.relative_to(APPS)
        if len(relative.parts) < 2 or "migrations" in relative.parts:
            continue
        package = ".".join(["apps", *relative.parts[:-1]])
        importer = node(package)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for module, line in _imports(tree, package):
            imported = node(module)
            if imported is not None and imported != importer:
                edges[(str(importer), imported)].append(f"apps/{relative.as_posix()}:{line}")
    return dict(edges)


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Every elementary cycle's nodes, found by a depth-first walk from each node (the graph is small)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in graph[node]:
            if nxt == start:
                i = path.index(min(path))
                found.add(tuple(path[i:] + path[:i]))
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return [list(c) for c in sorted(found)]


def test_apps_import_only_their_layer_or_below() -> None:
    edges = app_imports()
    upward = {edge: where for edge, where in edges.items() if layer(edge[1]) > layer(edge[0])}
    new = {edge: where for edge, where in upward.items() if edge not in KNOWN}
    assert not new, "Imports from a lower layer into a higher one:\n" + "\n".join(
        f"  {a} -> {b}: {', '.join(where)}" for (a, b), where in sorted(new.items())
    )


def test_libraries_import_no_app_and_no_django() -> None:
    order = list(LIBRARIES.values())
    for prefix, name in LIBRARIES.items():
        below = order[: order.index(name)]
        folder = APPS.parent / Path(*prefix.split("."))
        for path in sorted(folder.rglob("*.py")):
            package = ".".join(path.relative_to(APPS.parent).parts[:-1])
            for module, line in _imports(ast.parse(path.read_text(encoding="utf-8")), package):
                outside = module.startswith("apps.") and node(module) not in (name, *below)
                assert not outside and not module.startswith("django"), f"{path}:{line} imports {module}"


def test_no_import_cycle_between_apps() -> None:
    edges = set(app_imports()) - set(KNOWN)
    assert cycles(edges) == [], "App import cycles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles(edges))


def test_known_layering_breaks_are_still_there() -> None:
    """A KNOWN edge that is gone must leave the list, so that it cannot come back unnoticed."""
    gone = [edge for edge in KNOWN if edge not in app_imports()]
    assert not gone, f"These edges are gone: take them out of KNOWN: {gone}"


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({("a", "b"), ("b", "c")}, []),
        ({("a", "b"), ("b", "a")}, [["a", "b"]]),
        ({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: set[tuple[str, str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_the_walker_sees_function_local_and_relative_imports() -> None:
    tree = ast.parse("import os\n\ndef f():\n    from apps.jobs.models import Job\n    from ...jobs import x\n")
    found = sorted(_imports(tree, "apps.core.api"))
    assert found == [("apps.jobs.models.Job", 4), ("apps.jobs.x", 5), ("os", 1)]
    assert [node(m) for m, _ in found] == ["jobs", "jobs", None]
    assert node("apps.automl.engine.model.AtelierModel") == "automl.engine" and node("apps.automl.views") == "automl"
