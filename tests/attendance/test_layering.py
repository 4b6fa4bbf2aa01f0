"""The attendance core knows no screen: no Qt anywhere in it; the PDF renderer is reached lazily."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = [
    *sorted((ROOT / "companion" / "attendance").glob("*.py")),
    ROOT / "companion" / "services" / "attendance.py",
    ROOT / "companion" / "cli" / "attendance.py",
]


def imports(tree: ast.AST, *, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))  # type: ignore[attr-defined]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_no_qt_in_the_attendance_core():
    for path in CORE:
        tree = ast.parse(path.read_text())
        everything = imports(tree, top_level_only=False)
        assert not any(name.startswith("PySide6") for name in everything), path
        # companion.ui is imported only inside a function (for --format pdf), never at module level
        assert not any(name.startswith("companion.ui") for name in imports(tree, top_level_only=True)), path


def test_opendp_is_imported_only_by_the_dp_module_and_only_lazily():
    for path in CORE:
        tree = ast.parse(path.read_text())
        assert not any(name.startswith("opendp") for name in imports(tree, top_level_only=True)), path
        if path.name != "dp.py":
            assert not any(name.startswith("opendp") for name in imports(tree, top_level_only=False)), path
