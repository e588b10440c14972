"""Core's modules form layers: no import cycles, not even through imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "cooperbench-core" / "src"


def module_graph() -> dict[str, set[str]]:
    """Each core module and the core modules it imports anywhere in its body."""
    modules = {}
    for path in (CORE / "cooperbench").rglob("*.py"):
        name = ".".join(path.relative_to(CORE).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            # The package root is imported before any submodule anyway; edges to it
            # (``from cooperbench import __version__``) are not layering decisions.
            graph[name] |= {t for t in targets if t in modules and t != "cooperbench"}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_among_core_modules() -> None:
    assert cycles(module_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_backend_and_agent_discovery_share_one_bottom_module() -> None:
    graph = module_graph()
    assert "cooperbench.entry_points" in graph["cooperbench.plugin_manager"]
    assert "cooperbench.entry_points" in graph["cooperbench.agents.registry"]
    assert graph["cooperbench.entry_points"] <= {"cooperbench.errors"}
    assert not any(m.startswith("cooperbench.agents") for m in graph["cooperbench.plugin_manager"])
    assert "cooperbench.plugin_manager" not in graph["cooperbench.agents.registry"]
