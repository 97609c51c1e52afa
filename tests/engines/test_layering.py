"""The layering the engines package exists for: the product never stands on `pulumi_flow.testing`, and no module
imports another that imports it back, counting the imports made inside functions too."""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pulumi_flow

PACKAGE = Path(pulumi_flow.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@contextmanager
def no_collection() -> Iterator[None]:
    """CPython 3.11 (the CI's 3.11.7 too) counts `ast.parse`'s depth in interpreter-wide state (see
    python/cpython#106905): a finalizer run by the cyclic collector in the middle of a parse can leave it off, and
    the parse then fails with `SystemError: AST constructor recursion depth mismatch` (it did once, in a CI run).
    The suite leaves such a finalizer behind on purpose: tests/engine/test_interruption_on_engine.py kills the
    Pulumi CLI in the middle of a create, so the Automation API's inline program (the Pulumi SDK's `run_in_stack`
    coroutine) never finishes, and its `RuntimeError: no running event loop` when collected is the one warning the
    suite shows. Collect first, and not during."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def import_graph() -> dict[str, set[str]]:
    """Module -> the pulumi_flow modules it imports anywhere in its body (a lazy import is still a dependency)."""
    modules = _modules()
    with no_collection():
        trees = {name: ast.parse(path.read_text()) for name, path in modules.items()}
    graph: dict[str, set[str]] = {}
    for name, tree in trees.items():
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    targets.add(submodule if submodule in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_the_graph_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "pulumi_flow.engines.pulumi_cli" in graph["pulumi_flow.cli.run"], "imported inside a function"
    assert "pulumi_flow.emulator.embedded" in graph["pulumi_flow.cli.run"]


def test_no_product_module_imports_the_testing_package() -> None:
    graph = import_graph()
    leaks = {module: sorted(t for t in targets if t.startswith("pulumi_flow.testing"))
             for module, targets in graph.items() if not module.startswith("pulumi_flow.testing")}
    assert {module: targets for module, targets in leaks.items() if targets} == {}


def test_no_import_cycle_anywhere() -> None:
    graph = import_graph()
    assert cycles(graph) == []
    graph["pulumi_flow.engines.builtin"].add("pulumi_flow.cli.run")  # the detector finds one when there is one
    assert ["pulumi_flow.cli.run", "pulumi_flow.engines.builtin"] in [
        [m for m in cycle if m in ("pulumi_flow.cli.run", "pulumi_flow.engines.builtin")] for cycle in cycles(graph)]
