"""The floors run one way: domain <- projections <- infra <- gateway. Each package imports
only the floors below it (and itself), and `web/` holds templates and static assets only."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOORS = ("domain", "projections", "infra", "gateway")  # each may import those before it
OURS = frozenset({*FLOORS, "web", "tests", "benchmarks"})
MODULE_NAME = re.compile(r"(gateway|web)(\.\w+)+")  # a string naming an edge module


def allowed(package: str) -> frozenset[str]:
    return frozenset(FLOORS[: FLOORS.index(package) + 1])


def sources(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Each absolute import's line and top-level package (relative ones stay inside)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def wrong_imports(package: str) -> list[str]:
    found = []
    for path in sources(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, name in imported(tree):
            if name in OURS and name not in allowed(package):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


def test_each_floor_imports_only_the_floors_below_it() -> None:
    wrong = [problem for package in FLOORS for problem in wrong_imports(package)]

    assert wrong == []


def test_the_floors_below_the_edge_do_not_name_its_modules_either() -> None:
    """Launching `python -m gateway.cli` from infra is a dependency an import check misses."""
    named = []
    for package in FLOORS[:-1]:
        for path in sources(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                value = node.value if isinstance(node, ast.Constant) else None
                if isinstance(value, str) and MODULE_NAME.fullmatch(value):
                    named.append(f"{path.relative_to(ROOT)}:{node.lineno} {value!r}")

    assert named == []


def test_web_holds_templates_and_static_assets_only() -> None:
    code = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "web").rglob("*.py"))]

    assert code == []
    assert (ROOT / "web" / "templates" / "base.html").is_file()
    assert (ROOT / "web" / "static" / "api.js").is_file()


def test_the_check_catches_an_import_against_the_order() -> None:
    tree = ast.parse("import gateway.app\nfrom infra import cli\nfrom . import sibling\n")

    names = [name for _line, name in imported(tree)]

    assert names == ["gateway", "infra"]
    assert {"gateway", "infra"} - allowed("projections") == {"gateway", "infra"}
    assert allowed("gateway") == frozenset(FLOORS)
