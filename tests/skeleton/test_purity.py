"""The bet the project rests on: `core` modules stay pure (no database, web framework, I/O layer, wall clock)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "lifechain"
FORBIDDEN_IMPORTS = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "alembic", "psycopg", "httpx", "httpx2",
                     "requests", "lifechain.db", "lifechain.app", "lifechain.settings", "lifechain.api")
FORBIDDEN_SUFFIXES = (".tables", ".repo", ".flows", ".views", ".cli")
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
              ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "time_ns")}


def core_modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p.stem == "core" or p.stem.startswith("core_"))


def violations(source: str) -> list[str]:
    """Every forbidden import or wall-clock read in a module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.startswith(FORBIDDEN_IMPORTS) or name.endswith(FORBIDDEN_SUFFIXES):
                found.append(f"imports {name}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name | ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            if (owner, node.attr) in WALL_CLOCK:
                found.append(f"reads the wall clock: {owner}.{node.attr}")
    return found


def test_there_are_core_modules() -> None:
    """The rule checks something: at least the geo core exists."""
    assert any(p.parent.name == "geo" for p in core_modules())


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_is_pure(path: Path) -> None:
    """A core module imports no I/O layer and never reads the wall clock."""
    assert violations(path.read_text()) == []


def test_rule_catches_violations() -> None:
    """The checker itself flags a database import and a wall-clock read."""
    bad = "import sqlalchemy\nfrom lifechain.dispatch import repo\nimport datetime\nx = datetime.datetime.now()\n"
    found = violations(bad)
    assert "imports sqlalchemy" in found
    assert any("wall clock" in f for f in found)
