"""The layout the README describes: imports run one way (no cycle, function-level imports included), the organism
is known only inside its own package, and the package map and the README's layout name every module there is."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import thrifty


SRC = Path(thrifty.__file__).resolve().parent
REPO = SRC.parents[1]


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(("thrifty", *path.relative_to(SRC).with_suffix("").parts))
        modules[name.removesuffix(".__init__")] = path
    return modules


def _imports(path: Path, modules) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("thrifty"):
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found & set(modules)


def test_no_import_cycle_anywhere():
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        assert name not in trail, f"import cycle: {' -> '.join([*trail[trail.index(name) :], name])}"
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_organism_is_known_only_inside_its_package():
    """Outside thrifty/organism, code may name the organism (the demo uses it) but never branch on it."""
    branch = re.compile(r"""[=!]=\s*["']organism["']|["']organism["']\s*[=!]=|in\s*\(\s*["']organism""")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "organism" not in path.relative_to(SRC).parts and branch.search(path.read_text())
    ]
    assert offenders == []


def test_the_package_map_and_the_readme_name_every_module():
    layout = (REPO / "README.md").read_text().split("## Layout", 1)[1].split("```", 2)[1]
    for path in sorted(SRC.iterdir()):
        if path.name.startswith(("_", ".")) or not (path.suffix == ".py" or (path / "__init__.py").is_file()):
            continue
        module = path.stem
        assert f"thrifty.{module}" in thrifty.__doc__, module
        assert re.search(rf"^\s+{re.escape(module)}(/|\.py)", layout, re.M), module
        for inner in sorted(path.glob("*.py")) if path.is_dir() else []:
            if inner.stem != "__init__":
                assert inner.name in layout, f"{module}/{inner.name}"
