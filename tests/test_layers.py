"""The architecture, enforced: every import in viewer/ (function-level ones too) read with ``ast``.

Layers, bottom up (DESIGN.md): evidence < scan < case < handover < fleet < workspace < gui < cli, with
``viewer.tasks``, ``viewer.units`` and the package root as ground. A module imports its own layer and
those below — never above. Besides: a GUI class mixes in at most one of our own classes (features are
composed, not inherited), and a detector module never reaches into another detector's private names.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

VIEWER = REPO / "viewer"
LAYERS = ["evidence", "scan", "case", "handover", "fleet", "workspace", "gui", "cli"]
GROUND = {"tasks", "units", "__init__", "__main__"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted (``from a import b``: a.b when a.b is a module, else a)
    names: tuple[str, ...]
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def resolve(importer: str, package: bool, level: int, name: str | None) -> str:
    base = importer.split(".")
    if not package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    mod = module_name(path)
    out: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(mod, alias.name, (), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = resolve(mod, is_package(path), node.level, node.module) if node.level else node.module or ""
            out.append(Import(mod, target, tuple(a.name for a in node.names), node.lineno))
    return out


def layer_of(dotted: str) -> int | None:
    """The rank of a viewer module's layer (-1 ground), None for anything outside viewer."""
    parts = dotted.split(".")
    if parts[0] != "viewer":
        return None
    if len(parts) == 1 or parts[1] in GROUND:
        return -1
    if parts[1] not in LAYERS:
        raise AssertionError(f"{dotted}: not in any layer; add it to DESIGN.md's layers or move it")
    return LAYERS.index(parts[1])


SOURCES = sorted(VIEWER.rglob("*.py"))
ALL_IMPORTS = [imp for path in SOURCES for imp in imports_of(path)]


def test_every_module_belongs_to_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))


def test_no_module_imports_a_higher_layer():
    bad = []
    for imp in ALL_IMPORTS:
        own, target = layer_of(imp.module), layer_of(imp.target)
        if target is None:
            continue
        if target > own:
            bad.append(f"{imp.module}:{imp.line} imports {imp.target} ({LAYERS[target]} is above "
                       f"{LAYERS[own] if own >= 0 else 'ground'})")
    assert not bad, "\n".join(bad)


def test_only_cli_imports_gui():
    bad = [f"{i.module}:{i.line}" for i in ALL_IMPORTS
           if (i.target == "viewer.gui" or i.target.startswith("viewer.gui."))
           and not (i.module.startswith("viewer.gui") or i.module.startswith("viewer.cli"))]
    assert not bad, bad


def test_the_core_never_imports_qt():
    core = [i for i in ALL_IMPORTS if (layer_of(i.module) or 0) < LAYERS.index("gui")]
    bad = [f"{i.module}:{i.line} imports {i.target}" for i in core
           if i.target.split(".")[0] in {"PySide6", "pyqtgraph", "shiboken6"}]
    assert not bad, bad


def _own_classes() -> set[str]:
    names = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                names.add(node.name)
    return names


def test_no_gui_class_mixes_in_more_than_one_of_our_classes():
    ours = _own_classes()
    bad = []
    for path in sorted((VIEWER / "gui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                         for b in node.bases]
                own = [b for b in bases if b in ours]
                if len(own) > 1:
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}({', '.join(bases)})")
    assert not bad, bad


def test_detectors_do_not_import_each_others_private_names():
    prefix = "viewer.scan.detectors."
    bad = []
    for imp in ALL_IMPORTS:
        if not imp.module.startswith(prefix):
            continue
        own = imp.module[len(prefix):].split(".")[0]
        if imp.target.startswith(prefix):
            other = imp.target[len(prefix):].split(".")[0]
            private = [n for n in imp.names if n.startswith("_")]
            if other != own and private:
                bad.append(f"{imp.module}:{imp.line} takes {private} from {imp.target}")
    for path in sorted((VIEWER / "scan" / "detectors").rglob("*.py")):
        if "importlib" in path.read_text() and path.name != "__init__.py":
            bad.append(f"{path.relative_to(REPO)} loads modules through importlib")
    assert not bad, bad


def test_nothing_outside_scan_imports_a_detectors_private_names():
    bad = [f"{i.module}:{i.line} takes {[n for n in i.names if n.startswith('_')]} from {i.target}"
           for i in ALL_IMPORTS
           if i.target.startswith("viewer.scan.detectors") and not i.module.startswith("viewer.scan")
           and any(n.startswith("_") for n in i.names)]
    assert not bad, bad


@pytest.mark.parametrize("source, expected", [
    ("from viewer.gui.app import run_gui", "viewer.gui.app"),
    ("from ..scan import engine", "viewer.scan"),
])
def test_the_reader_resolves_imports(tmp_path, source, expected):
    """The checks above are only as good as this reader: a relative import inside a function counts."""
    target = VIEWER / "case" / "__probe_for_test_layers__.py"
    body = "def f():\n    " + source + "\n"
    tree_imports = []
    tree = ast.parse(body)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            tree_imports.append(resolve(module_name(target), False, node.level, node.module)
                                if node.level else node.module)
    assert tree_imports == [expected]
