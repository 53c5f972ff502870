"""ARCHITECTURE.md's one-way data flow, checked by parsing every import with `ast`.

Each module has a rank; a module may import only modules of lower or equal-group
rank. Core modules never import report, sim, calibrate or cli.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "inferplan"

#: Lower ranks are upstream. A module may import modules of strictly lower rank
#: (or its own package's siblings of the same rank).
RANKS: dict[str, float] = {
    "units": 0, "interpolate": 0.5, "validation": 1,
    "models": 2, "hardware": 2,
    "collectives": 3, "parallel": 3, "engines": 3,
    "lengths": 3.5, "deployment": 4, "rows": 4.5, "scenario": 5,
    "memory": 6, "efficiency": 6, "partitioning": 6, "layout_plans": 6.25,
    "communication": 6.5, "cost": 7, "steptime": 8,
    "speculative": 8.5, "roofline": 8.5, "serving": 9, "disagg": 9, "export": 9,
    "search": 10, "buckets": 10, "sim": 10, "calibrate": 10, "validate": 10,
    "validate_serving": 10, "hlo": 10,
    "report": 11, "sweep": 11, "cli": 12, "__main__": 13, "api": 13,
}
CORE_FORBIDDEN = {"report", "sim", "calibrate", "hlo", "sweep", "cli"}
ENTRY_POINTS = {"cli", "__main__", "api"}   # the command (and the Python API) may import anything


def top_module(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0] if rel.parts[0] != "__init__" else "__init__"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "inferplan."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "inferplan":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("inferplan."):
                    found.add(alias.name.split(".")[1])
    return found


def test_every_module_has_a_rank() -> None:
    for path in SRC.rglob("*.py"):
        name = top_module(path)
        if name != "__init__":
            assert name in RANKS, f"{path}: add '{name}' to RANKS (and to ARCHITECTURE.md)"


def test_imports_flow_one_way() -> None:
    problems = []
    for path in SRC.rglob("*.py"):
        name = top_module(path)
        if name == "__init__":
            continue
        for dep in imported_modules(path):
            if dep == name or dep not in RANKS:
                continue
            if RANKS[dep] >= RANKS[name]:
                problems.append(f"{path.relative_to(SRC)} imports {dep}")
            if name not in CORE_FORBIDDEN | ENTRY_POINTS and dep in CORE_FORBIDDEN:
                problems.append(f"core module {path.relative_to(SRC)} imports {dep}")
    assert not problems, "\n".join(problems)


def test_units_imports_nothing_of_ours() -> None:
    assert imported_modules(SRC / "units.py") == set()


def test_the_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from inferplan.cli.app import app\nimport inferplan.report.json_out\n")
    assert imported_modules(bad) == {"cli", "report"}
