"""The architecture as the imports show it (docs/architecture.md draws it): dependencies point
``ui -> qa_bot <- ingest``, no module imports another that imports it back (directly or
round a circle), and the packages of ``qa_bot`` form layers without a circle either.

Imports are read from the source (``ast``), including those inside functions; those under
``if TYPE_CHECKING:`` are for annotations only and are not counted.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("qa_bot", "ingest", "ui")


def module_names() -> dict[str, Path]:
    """Every module of the three top-level packages, by dotted name."""
    out = {}
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports at run time."""
    modules = module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                candidates = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            targets.update(c for c in candidates if c in modules and c != name)
        graph[name] = targets
    return graph


# The entry points of qa_bot: the package itself (QABot, Answer, ...) and evaluation. The other top-level modules (config, types, text, hostile) are
# what every package shares: "qa_bot.shared" in the picture.
ENTRY = {"qa_bot", "qa_bot.evaluation"}


def package_of(module: str) -> str:
    """``qa_bot.answer.check.finalize`` -> ``qa_bot.answer``; ``qa_bot.config`` ->
    ``qa_bot.shared``; ingest and ui are one package each."""
    parts = module.split(".")
    if parts[0] != "qa_bot":
        return parts[0]
    if module in ENTRY:
        return "qa_bot"
    return ".".join(parts[:2]) if len(parts) > 2 else "qa_bot.shared"


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, targets in import_graph().items():
        for target in targets:
            if package_of(target) != package_of(module):
                graph[package_of(module)].add(package_of(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_dependencies_point_from_ui_and_ingest_to_qa_bot():
    wrong = [
        (module, target)
        for module, targets in import_graph().items()
        for target in targets
        if (module.startswith("qa_bot") and not target.startswith("qa_bot"))
        or (module.startswith("ingest") and target.startswith("ui"))
    ]
    assert wrong == []


def test_no_module_imports_round_a_circle():
    assert cycles(import_graph()) == []


def test_the_packages_of_qa_bot_form_layers():
    graph = package_graph()
    assert cycles(graph) == []
    # The foundations import no package of the library.
    assert graph.get("qa_bot.shared", set()) == set()
    assert graph.get("qa_bot.time", set()) <= {"qa_bot.shared"}
    assert graph.get("qa_bot.corpus", set()) <= {"qa_bot.shared"}


def test_cycles_finds_a_circle_and_only_that():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def mermaid() -> str:
    """The package graph as a mermaid diagram (pasted into docs/architecture.md)."""
    lines = ["graph LR"]
    for package, targets in sorted(package_graph().items()):
        for target in sorted(targets):
            lines.append(
                f"    {package.replace('.', '_')}[{package}] --> {target.replace('.', '_')}[{target}]"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid())
