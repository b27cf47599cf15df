"""Boundaries that check themselves, beyond what import-linter's contracts (pyproject.toml,
run by run-tests.sh) can say: no module imports another module's private names, and no
import cycle between any two modules, a package and its own modules included."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp

PACKAGE = Path(__file__).parent.parent / "aggregator"


@dataclass(frozen=True, slots=True)
class PrivateUse:
    importer: str
    imported: str
    name: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} uses {self.imported}.{self.name}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module a (possibly relative) ``from … import`` names."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(
    code: str, importer: str, *, is_package: bool, known: set[str]
) -> Iterator[PrivateUse]:
    """``from aggregator.x import _name`` and ``x._name`` where ``x`` is an imported
    aggregator module: both reach into another module's insides."""
    tree = ast.parse(code)
    modules: dict[str, str] = {}  # local alias → the aggregator module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = absolute(node, importer, is_package)
            if source.split(".")[0] != "aggregator" or source == importer:
                continue
            for alias in node.names:
                if is_private(alias.name):
                    yield PrivateUse(importer, source, alias.name, node.lineno)
                elif f"{source}.{alias.name}" in known:
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "aggregator" and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and is_private(node.attr)
            and modules[node.value.id] != importer
        ):
            yield PrivateUse(importer, modules[node.value.id], node.attr, node.lineno)


def test_no_module_uses_another_modules_private_names() -> None:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    uses = [
        use
        for path in paths
        for use in private_uses(
            path.read_text(encoding="utf-8"),
            module_name(path),
            is_package=path.name == "__init__.py",
            known=known,
        )
    ]
    assert len(known) > 40 and "aggregator.store.codec" in known
    found = [str(u) for u in uses]
    assert found == [], "make the name public (drop the underscore) or move it:\n" + "\n".join(
        found
    )


def test_the_private_name_scan_sees_every_spelling() -> None:
    """The scanner itself: a check that finds nothing must be able to find something."""
    code = (
        "from aggregator.harvest import ical as cal\n"
        "from aggregator.store.codec import _decode, encode\n"
        "from .schema import _MIGRATIONS\n"
        "from . import __version__, _helper\n"
        "import aggregator.clock as clock\n"
        "cal._first(1)\n"
        "cal.parse_ical\n"
        "clock._fixed\n"
        "from aggregator.store.example import _mine\n"
    )
    known = {"aggregator.harvest.ical", "aggregator.store.codec", "aggregator.clock"}
    found = [
        str(u)
        for u in private_uses(code, "aggregator.store.example", is_package=False, known=known)
    ]
    assert sorted(found) == [
        "aggregator.store.example:2 uses aggregator.store.codec._decode",
        "aggregator.store.example:3 uses aggregator.store.schema._MIGRATIONS",
        "aggregator.store.example:4 uses aggregator.store._helper",
        "aggregator.store.example:6 uses aggregator.harvest.ical._first",
        "aggregator.store.example:8 uses aggregator.clock._fixed",
    ]


def module_cycles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """Strongly connected groups of two or more modules (Tarjan), i.e. import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(frozenset(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("aggregator", cache_dir=None)
    assert "aggregator.harvest.ical" in graph.modules
    cycles = [sorted(c) for c in module_cycles(graph)]
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_cycle_through_a_package() -> None:
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p", imported="p.a")
    graph.add_import(importer="p.a", imported="p")  # a package and its own module
    graph.add_import(importer="p.b", imported="p.c")
    assert module_cycles(graph) == [frozenset({"p", "p.a"})]
