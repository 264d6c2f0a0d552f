"""The migration's place among the rooms: it depends on `peach.config`, never the other way round,
and within it `plan` decides without the text-editing modules."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Set

PEACH = Path(__file__).resolve().parent.parent


def imported(path: Path) -> Set[str]:
    """The modules a file imports (`from a.b import c` counts as `a.b`)."""
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_config_does_not_import_the_migration() -> None:
    modules = sorted((PEACH / "config").glob("*.py"))
    assert len(modules) >= 10, "the config room's sources must be in the test sandbox (see BUILD)"
    wrong = {p.name: m for p in modules for m in imported(p) if m == "peach.migrate" or m.startswith("peach.migrate.")}
    assert wrong == {}


def test_the_migration_uses_only_config_and_no_pants() -> None:
    modules = sorted(p for p in (PEACH / "migrate").glob("*.py") if not p.name.endswith("_test.py"))
    assert len(modules) >= 8
    wrong = {p.name: m for p in modules for m in imported(p)
             if m.split(".")[0] == "pants" or (m.startswith("peach.") and m.split(".")[1] not in ("config", "migrate"))}
    assert wrong == {}


def test_the_plan_does_not_import_the_text_edits() -> None:
    assert not imported(PEACH / "migrate" / "plan.py") & {"peach.migrate.text", "peach.migrate.file"}
