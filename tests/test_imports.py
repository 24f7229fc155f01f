"""The layers point one way (cli/ui -> kb -> stages -> types): no import cycle among the
project's modules, counting imports inside functions and string imports (importlib)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "ui")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, name: str) -> set[str]:
    """Every module name `path` may import, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ):
            out.update(a.value for a in node.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return out


def import_graph() -> dict[str, set[str]]:
    modules = {module_of(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for target in imported(path, name):
            while target and target not in modules:  # rag.types.Chunk -> rag.types
                target = target.rpartition(".")[0]
            # a module importing its own package's __init__ (rag.kb -> rag) is not a layer cycle
            if target and target != name and not name.startswith(target + "."):
                targets.add(target)
        graph[name] = targets
    return graph


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert {"rag.kb", "rag.cli", "ui.app", "rag.store"} <= graph.keys()
    assert "rag.kb" in graph["rag.cli.commands"]  # the walker sees function-level imports
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as err:
        raise AssertionError(f"import cycle: {' -> '.join(err.args[1])}") from None


def test_the_walker_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f():\n    from b import g\n")
    (tmp_path / "b.py").write_text("import importlib\ng = importlib.import_module('a')\n")
    graph = {m: imported(tmp_path / f"{m}.py", m) & {"a", "b"} for m in ("a", "b")}
    assert graph == {"a": {"b"}, "b": {"a"}}
