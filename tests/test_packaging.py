"""The declared Python floor matches what the code needs (e.g. stdlib tomllib is 3.11+)."""

import ast
import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: stdlib modules and the first Python that has them
NEEDS = {"tomllib": (3, 11)}


def _floor() -> tuple[int, int]:
    spec = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    m = re.fullmatch(r">=\s*(\d+)\.(\d+)", spec.strip())
    assert m, f"requires-python should be a plain floor like '>=3.11', got {spec!r}"
    return int(m.group(1)), int(m.group(2))


def test_python_floor_covers_the_stdlib_modules_used():
    floor = _floor()
    for path in (REPO / "src" / "arlearn").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                need = NEEDS.get(name.split(".")[0])
                assert need is None or floor >= need, f"{path.name} imports {name} (Python {need}); floor {floor}"


def test_this_interpreter_meets_the_floor():
    assert sys.version_info[:2] >= _floor()
