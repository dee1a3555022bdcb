"""The import graph of ``bot`` and ``probes``, read from the source (nothing is imported).

    python -m tests.import_graph            # one line per module: what it imports (first party only)
    python -m tests.import_graph --summary  # counts, imports inside functions, cycles, probes -> bot
    python -m tests.import_graph --dot      # Graphviz: ... --dot | dot -Tsvg > imports.svg
    python -m tests.import_graph --root DIR # another checkout (e.g. `git archive` of an older commit)

``tests/test_imports.py`` asserts on the same graph: no cycle, ``probes`` never imports ``bot``.
Imports under ``if TYPE_CHECKING:`` are left out (they never run); ``from pkg import name`` counts
as an import of ``pkg.name`` when that is a module, else of ``pkg``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "probes")


@dataclass
class Graph:
    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> first-party modules it imports
    lazy: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # module -> (line, target) in functions
    private: list[tuple[str, str]] = field(default_factory=list)  # (module, "other.module._name") imported

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one module, or a module importing itself."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on: set[str] = set()
        out: list[list[str]] = []
        counter = [0]

        def visit(v: str) -> None:  # Tarjan, iterative enough for this graph's depth
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in sorted(self.edges.get(v, ())):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in self.edges.get(v, ()):
                    out.append(sorted(comp))

        sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
        for v in sorted(self.edges):
            if v not in index:
                visit(v)
        return sorted(out)

    def packages(self, depth: int = 2) -> Graph:
        """The same graph between packages (``bot.slack``, ``bot.drift``, ``bot.service``...)."""
        g = Graph()
        for m, ts in self.edges.items():
            a = ".".join(m.split(".")[:depth])
            g.edges.setdefault(a, set()).update(t2 for t in ts if (t2 := ".".join(t.split(".")[:depth])) != a)
        return g

    def crossing(self, src: str, dst: str) -> list[tuple[str, str]]:
        """Edges from package *src* into package *dst*."""
        return sorted(
            (m, t)
            for m, ts in self.edges.items()
            for t in ts
            if (m == src or m.startswith(src + ".")) and (t == dst or t.startswith(dst + "."))
        )


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[ast.stmt, bool]]:
    """Every import statement with whether it sits inside a function; TYPE_CHECKING blocks skipped."""
    found: list[tuple[ast.stmt, bool]] = []

    def walk(nodes: list[ast.stmt], in_function: bool) -> None:
        for n in nodes:
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                found.append((n, in_function))
            elif isinstance(n, ast.If) and _is_type_checking(n):
                walk(n.orelse, in_function)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                walk(n.body, True)
            else:
                for name in ("body", "orelse", "finalbody", "handlers"):
                    child = getattr(n, name, None)
                    if isinstance(child, list):
                        walk(
                            [c for c in child if isinstance(c, ast.stmt)]
                            + [s for h in child if isinstance(h, ast.ExceptHandler) for s in h.body],
                            in_function,
                        )

    walk(tree.body, False)
    return found


def build(root: Path = REPO) -> Graph:
    files = {module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}
    g = Graph()
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        targets: set[str] = set()
        for node, in_function in _imports(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg_parts = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    pkg_parts = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                    base = ".".join([*pkg_parts, *([base] if base else [])])
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
                g.private += [
                    (mod, f"{base}.{a.name}")
                    for a in node.names
                    if a.name.startswith("_") and f"{base}.{a.name}" not in files
                ]
            for name in names:
                while name and name not in files:  # `import bot.x.y` where only bot.x is ours
                    name = name.rpartition(".")[0]
                if name and name != mod:
                    targets.add(name)
                    if in_function:
                        g.lazy.setdefault(mod, []).append((node.lineno, name))
        g.edges[mod] = targets
    return g


def summary(g: Graph) -> str:
    n_edges = sum(len(t) for t in g.edges.values())
    lazy = sum(len(v) for v in g.lazy.values())
    lines = [
        f"{len(g.edges)} modules, {n_edges} first-party imports, {lazy} of them inside functions"
        f" (in {len(g.lazy)} modules)"
    ]
    cycles = g.cycles()
    lines.append(f"module cycles: {len(cycles)}")
    lines += ["  " + " <-> ".join(c) for c in cycles]
    pcycles = g.packages().cycles()
    lines.append(f"package cycles (bot.slack, bot.drift, ...): {len(pcycles)}")
    lines += ["  " + " <-> ".join(c) for c in pcycles]
    lines.append(f"private names imported from another module: {len(g.private)}")
    lines += [f"  {a} imports {b}" for a, b in g.private]
    cross = g.crossing("probes", "bot")
    lines.append(f"probes -> bot: {len(cross)}")
    lines += [f"  {a} -> {b}" for a, b in cross]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=REPO)
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--dot", action="store_true")
    args = ap.parse_args(argv)
    g = build(args.root)
    if args.dot:
        print("digraph imports {\n  rankdir=LR; node [shape=box, fontsize=10];")
        for m, ts in sorted(g.edges.items()):
            for t in sorted(ts):
                print(f'  "{m}" -> "{t}";')
        print("}")
    elif args.summary:
        print(summary(g))
    else:
        for m, ts in sorted(g.edges.items()):
            print(f"{m}: {' '.join(sorted(ts)) or '-'}")
    return 1 if g.cycles() else 0


if __name__ == "__main__":
    raise SystemExit(main())
