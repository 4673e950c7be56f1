"""Arrows one way (issue 18, item 6): the import graph of ``bot/`` and ``actions/``.

Every module belongs to one layer (``LAYERS``, the most specific prefix wins; a module
named ``commands`` or ``*_commands`` is a face unless the table names it). An import may go
to its own layer or a lower one, never to a higher one, and no two packages (``bot.<name>``,
``actions``) may import each other, directly or round a circle. Imports inside functions
count like the ones at the top of a file: a lazy import hides an arrow, it does not remove it.
docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("bot", "actions")

PROCESS, FACE, CORE, BASE = 3, 2, 1, 0
LAYER_NAMES = {PROCESS: "process", FACE: "face", CORE: "core", BASE: "SQL and settings"}

# prefix -> layer; the longest matching prefix decides.
LAYERS: Dict[str, int] = {
    # process: starts things (servers, the Rasa process and what is installed into it)
    "bot.__main__": PROCESS,
    "bot.run": PROCESS,
    "bot.runtime": PROCESS,
    "bot.deploy": PROCESS,
    "bot.deploy.commands": PROCESS,  # `python -m bot deploy run|stop|...` starts the stack
    "bot.evaluation.__main__": PROCESS,  # `make eval` starts the servers it measures
    "bot.evaluation.failover": PROCESS,  # the kill -9 drill starts and kills the stack
    # faces: what people and other programs talk to
    "actions": FACE,
    "bot.channels": FACE,
    "bot.cli": FACE,
    "bot.web": FACE,
    "bot.staff.web": FACE,
    "bot.staff.benchmark": FACE,  # `python -m bot.staff.benchmark` times the staff page and CLI
    # core
    "bot.nlp": CORE,
    "bot.rasa_components": CORE,
    "bot.knowledge": CORE,
    "bot.booking": CORE,
    "bot.frontdesk": CORE,
    "bot.safety": CORE,
    "bot.privacy": CORE,
    "bot.staff": CORE,
    "bot.notify": CORE,
    "bot.reply": CORE,
    "bot.feedback": CORE,
    "bot.messages": CORE,
    "bot.intents": CORE,
    "bot.contacts": CORE,
    "bot.evaluation": CORE,
    # SQL layer and settings
    "bot": BASE,  # the package itself (no code)
    "bot.db": BASE,
    "bot.schema": BASE,
    "bot.migrations": BASE,
    "bot.settings": BASE,
    "bot.files": BASE,
    "bot.quiet": BASE,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@lru_cache(maxsize=1)
def modules() -> Dict[str, Path]:
    found = {}
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(name: str, known: Dict[str, Path]) -> Optional[str]:
    """The project module ``name`` is, or lives in; None for a third-party one."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str, path: Path, known: Dict[str, Path]) -> List[Tuple[str, int]]:
    """(imported project module, line) for every import in the file, at any depth."""
    found: List[Tuple[str, int]] = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # ``from bot.web import feedback`` imports the module bot.web.feedback
            names = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin
                     for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name, known)
            if target and target != module and (target, node.lineno) not in found:
                found.append((target, node.lineno))
    return found


def layer_of(module: str) -> int:
    last = module.rpartition(".")[2]
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")),
               key=len, default=None)
    if best is None:
        raise KeyError(module)
    if (last == "commands" or last.endswith("_commands")) and best != module:
        return FACE  # a command line is a face (the table may say otherwise by name)
    return LAYERS[best]


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "bot" else parts[0]


@lru_cache(maxsize=1)
def graph() -> Dict[str, List[Tuple[str, int]]]:
    known = modules()
    return {module: imports(module, path, known) for module, path in known.items()}


def strongly_connected(nodes: Iterable[str], edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's algorithm: the components of more than one node (each a cycle)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return components


def _where(module: str, line: int) -> str:
    return f"{modules()[module].relative_to(ROOT)}:{line}"


def test_every_module_has_a_layer() -> None:
    missing = []
    for module in modules():
        try:
            layer_of(module)
        except KeyError:
            missing.append(module)
    assert not missing, f"add these modules to LAYERS in {Path(__file__).name}: {missing}"


def test_no_import_runs_up_a_layer() -> None:
    upward = []
    for module, targets in graph().items():
        for target, line in targets:
            if layer_of(target) > layer_of(module):
                upward.append(
                    f"{_where(module, line)}: {module} ({LAYER_NAMES[layer_of(module)]}) imports "
                    f"{target} ({LAYER_NAMES[layer_of(target)]})"
                )
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_no_cycle_between_packages() -> None:
    edges: Dict[str, Set[str]] = {}
    witness: Dict[Tuple[str, str], str] = {}
    for module, targets in graph().items():
        for target, line in targets:
            source, goal = package_of(module), package_of(target)
            if source != goal:
                edges.setdefault(source, set()).add(goal)
                witness.setdefault((source, goal), f"{_where(module, line)}: {module} -> {target}")
    cycles = strongly_connected({package_of(m) for m in modules()}, edges)
    lines = []
    for component in cycles:
        lines.append(" <-> ".join(component) + ":")
        members = set(component)
        lines.extend(f"  {witness[(a, b)]}" for a in component for b in sorted(edges[a] & members))
    assert not cycles, "import cycles between packages:\n" + "\n".join(lines)


def test_no_cycle_between_modules() -> None:
    edges = {module: {target for target, _ in targets} for module, targets in graph().items()}
    cycles = list(strongly_connected(edges, edges))
    assert not cycles, "import cycles between modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The graph counts an import inside a function, and resolves ``from . import x``."""
    known = {"bot.a": tmp_path / "a.py", "bot.b": tmp_path / "b.py", "bot.pkg": tmp_path / "__init__.py",
             "bot.pkg.c": tmp_path / "c.py"}
    source = tmp_path / "pkg" / "__init__.py"
    source.parent.mkdir()
    source.write_text("def f():\n    from bot.a import thing\n\nfrom . import c\nimport bot.b\n")
    assert sorted(imports("bot.pkg", source, known)) == [("bot.a", 2), ("bot.b", 5), ("bot.pkg.c", 4)]
    assert strongly_connected(["x", "y", "z"], {"x": {"y"}, "y": {"x"}, "z": {"x"}}) == [["x", "y"]]


def _where_is_rows() -> List[Tuple[str, str]]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Where is…", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("what", "") and not set(cells[0]) <= {"-"}:
            rows.append((cells[0], cells[1]))
    return rows


def test_where_is_table_names_one_existing_file_per_question() -> None:
    rows = _where_is_rows()
    assert len(rows) >= 10, "docs/architecture.md lost its 'Where is…' table"
    problems = []
    for question, answer in rows:
        paths = [part for index, part in enumerate(answer.split("`")) if index % 2]
        if len(paths) != 1:
            problems.append(f"{question!r}: give one file in backticks, not {answer!r}")
        elif not (ROOT / paths[0]).is_file():
            problems.append(f"{question!r}: {paths[0]} does not exist")
    assert not problems, "docs/architecture.md 'Where is…':\n" + "\n".join(problems)
