"""The package's shape: no import cycles, no upward imports, nothing outside cli/ imports cli/.

Reads every module of src/arlearn with `ast` (imports inside functions count too; imports under
`if TYPE_CHECKING:` do not, as they never run) and checks the layering that
docs/reference/architecture.md draws.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "arlearn"

#: area → the areas its modules may import (ground floor: errors, vocab, fileio, device, config)
GROUND = {"errors", "vocab", "fileio", "device", "config", "signals", "limits", "plugins"}
ALLOWED = {
    "ground": {"ground"},
    "models": {"ground", "models"},
    "circuits": {"ground", "circuits"},
    "turing": {"ground", "circuits", "turing"},
    "tasks": {"ground", "circuits", "turing", "tasks"},
    "evaluation": {"ground", "models", "tasks", "evaluation"},
    "rundir": {"ground", "models", "tasks", "rundir"},  # the run-directory format and the one run loader
    "training": {"ground", "models", "tasks", "evaluation", "rundir", "training"},
    "compile": {"ground", "models", "circuits", "turing", "tasks", "rundir", "compile"},  # never training
    "experiments": {"ground", "models", "circuits", "tasks", "evaluation", "rundir", "training", "compile",
                    "experiments"},
    "reporting": {"ground", "models", "circuits", "tasks", "evaluation", "rundir", "training", "compile",
                  "experiments", "reporting"},
    "cli": None,  # the top: may import anything
    "package": {"ground"},  # arlearn/__init__.py and __main__.py (which only calls the CLI)
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def area(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "package"
    return "ground" if parts[1] in GROUND else parts[1]


def _type_checking_only(node, parents) -> bool:
    for p in parents:
        if isinstance(p, ast.If) and "TYPE_CHECKING" in ast.unparse(p.test) and node in ast.walk(p):
            if not any(node in ast.walk(o) for o in p.orelse):
                return True
    return False


def imports_of(path: Path, modules: set[str], type_hints: bool = False) -> set[str]:
    """The arlearn modules `path` imports (a package import counts as its __init__); imports
    under `if TYPE_CHECKING:` count only with `type_hints`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ifs = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
    skip = set() if type_hints else {id(n) for i in ifs for b in i.body for n in ast.walk(b)}
    this = module_name(path)
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                pkg = this.split(".") if is_pkg else this.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            if not name.startswith("arlearn"):
                continue
            parts = name.split(".")
            for k in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
                cand = ".".join(parts[:k])
                if cand in modules and not this.startswith(cand + ".") and cand != this:
                    out.add(cand)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = sorted(PKG.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = counter[0]
                counter[0] += 1
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(graph.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def test_the_walker_sees_the_package(graph):
    assert "arlearn.training.trainer" in graph and "arlearn.cli" in graph
    assert "arlearn.rundir" in graph["arlearn.training.trainer"]


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles(graph):
    assert _cycles(graph) == []


def test_no_import_cycles_even_through_type_hints():
    """A module imported by another does not import it back, not even for type hints only (an
    interface the lower module needs is stated there, e.g. tasks.encoding.EncodableTask)."""
    paths = sorted(PKG.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    assert _cycles({module_name(p): imports_of(p, modules, type_hints=True) for p in paths}) == []


def test_nothing_outside_cli_imports_cli(graph):
    bad = {m: sorted(i for i in imps if area(i) == "cli") for m, imps in graph.items()
           if area(m) not in ("cli",) and m != "arlearn.__main__"}
    assert {m: v for m, v in bad.items() if v} == {}


def test_no_upward_imports(graph):
    bad = {}
    for m, imps in graph.items():
        allowed = ALLOWED[area(m)] if m != "arlearn.__main__" else {"ground", "cli"}
        if allowed is None:
            continue
        up = sorted(i for i in imps if area(i) not in allowed)
        if up:
            bad[m] = up
    assert bad == {}


def test_every_module_says_what_it_owns():
    missing = [module_name(p) for p in sorted(PKG.rglob("*.py"))
               if p.name != "__main__.py" and not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert missing == []
