"""The package's layout: imports point down only (entry points -> flows -> foundations), and none go round in a circle.

Entry points: commands (one module per command) and the `__main__` of `python -m`. Flows: data, train, colorize,
predict, evaluate. Foundations: color, io, nets, config. Colorizing and predicting (their commands too) never load
training or evaluation; no flow loads an entry point; the foundations load no flow. The import checks run in
fresh interpreters, so nothing this test session has imported hides a stray import; the modules are found on disk,
so new files are covered.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = "manga_cyclegan"
ROOT = REPO / PACKAGE
ENTRY = "commands"
FLOWS = ("data", "train", "colorize", "predict", "evaluate")
FOUNDATIONS = ("color", "io", "nets", "config")


# --------------------------------------------------------------------------- finding the modules on disk
def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def modules_of(part: str) -> list[str]:
    """Every importable module of a sub-package (or the single module color.py), __main__ left out: running it
    would start the command."""
    folder = ROOT / part
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [ROOT / f"{part}.py"]
    return [module_name(p) for p in files if p.name != "__main__.py" and "__pycache__" not in p.parts]


def subpackage(module: str) -> str | None:
    """`manga_cyclegan.io.pages` -> "io"; None for the top package itself and for anything outside it. A `__main__`
    (`python -m manga_cyclegan.evaluate`) is an entry point: it counts with the commands."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    return ENTRY if parts[-1] == "__main__" else parts[1]


# --------------------------------------------------------------------------- importing in a fresh interpreter
# Imports the given modules with a finder that notes, for each forbidden module loaded, the chain of package lines
# that led there (outermost first); prints the notes and the forbidden modules left in sys.modules as JSON.
PROBE = textwrap.dedent("""
    import importlib, json, sys, traceback

    modules, forbidden, root = json.loads(sys.argv[1])
    chains = {}

    def is_forbidden(name):
        return any(name == f or name.startswith(f + ".") for f in forbidden)

    class Witness:
        def find_spec(self, name, path=None, target=None):
            if is_forbidden(name) and name not in chains:
                frames = [f for f in traceback.extract_stack()[:-1] if f.filename.startswith(root)]
                chains[name] = [f"{f.filename[len(root) + 1:]}:{f.lineno}: {(f.line or '').strip()}" for f in frames]
            return None  # the usual finders do the loading

    sys.meta_path.insert(0, Witness())
    errors = {}
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as error:
            errors[module] = f"{type(error).__name__}: {error}"
    loaded = sorted(m for m in sys.modules if is_forbidden(m))
    print(json.dumps({"loaded": loaded, "chains": chains, "errors": errors}))
""")


def start_probe(modules: list[str], forbidden: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PROBE, json.dumps([modules, forbidden, str(REPO)])],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe_result(proc: subprocess.Popen) -> dict:
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-4000:]
    return json.loads(stdout.strip().splitlines()[-1])


CHECKS = {  # check: (the modules imported, the modules they must not load)
    "colorize": (lambda: modules_of("colorize"), [f"{PACKAGE}.train", f"{PACKAGE}.evaluate", f"{PACKAGE}.{ENTRY}"]),
    # with the two colorizing commands (manga-colorize, manga-export)
    "predict": (lambda: [*modules_of("predict"), f"{PACKAGE}.{ENTRY}.predict", f"{PACKAGE}.{ENTRY}.export"],
                [f"{PACKAGE}.train", f"{PACKAGE}.evaluate"]),
    "foundations": (lambda: [m for part in FOUNDATIONS for m in modules_of(part)],
                    [f"{PACKAGE}.{f}" for f in (*FLOWS, ENTRY)]),
}


@pytest.fixture(scope="module")
def probes():
    """The three fresh interpreters, started at once (they overlap on the cores); each check waits for its own."""
    running = {name: start_probe(modules(), forbidden) for name, (modules, forbidden) in CHECKS.items()}
    yield running
    for proc in running.values():
        proc.kill()
        proc.communicate()


def describe(result: dict) -> str:
    lines = [f"loaded: {', '.join(result['loaded'])}"]
    for name, chain in result["chains"].items():
        lines.append(f"{name} is loaded by:")
        lines.extend(f"    {step}" for step in chain or ["(no line of the package: an import outside it)"])
    return "\n".join(lines)


@pytest.mark.parametrize("flow", ["colorize", "predict"])
def test_colorizing_and_predicting_load_neither_training_nor_evaluation(flow, probes):
    assert modules_of(flow), f"no modules found under {PACKAGE}/{flow}/"
    assert modules_of(ENTRY), f"no modules found under {PACKAGE}/{ENTRY}/"
    result = probe_result(probes[flow])
    assert not result["errors"], result["errors"]
    assert not result["loaded"], f"importing {PACKAGE}.{flow}.* loads what it must not:\n{describe(result)}"


def test_the_foundations_load_no_flow(probes):
    modules = CHECKS["foundations"][0]()
    assert f"{PACKAGE}.color" in modules and len(modules) > len(FOUNDATIONS)
    result = probe_result(probes["foundations"])
    assert not result["errors"], result["errors"]
    assert not result["loaded"], f"importing the foundations loads flows:\n{describe(result)}"


# --------------------------------------------------------------------------- the import graph, read from the source
def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, at module level) for every import statement in the file, those inside functions
    too; `from X import name` counts as importing X.name where that is a module of the package, else X.
    Imports under `if TYPE_CHECKING:` never run and are left out."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.orelse:
                    visit_statement(stmt, in_function)
                continue
            visit_statement(child, in_function)

    def visit_statement(child: ast.AST, in_function: bool) -> None:
        if isinstance(child, ast.Import):
            found.extend((alias.name, child.lineno, not in_function) for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = package.split(".")
                base = base[: len(base) - (child.level - 1)]
                target = ".".join([*base, child.module] if child.module else base)
            else:
                target = child.module
            for alias in child.names:
                candidate = f"{target}.{alias.name}"
                found.append((candidate if is_package_module(candidate) else target, child.lineno, not in_function))
        visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def is_package_module(name: str) -> bool:
    if subpackage(name) is None and name != PACKAGE:
        return False
    relative = Path(*name.split("."))
    return (REPO / relative.with_suffix(".py")).is_file() or (REPO / relative / "__init__.py").is_file()


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := walk(start)):
            return cycle
    return None


def explain(cycle: list[str], where: dict[tuple[str, str], list[str]]) -> str:
    return "\n".join(f"{a} -> {b}: {', '.join(where[a, b])}" for a, b in zip(cycle, cycle[1:]))


def test_the_sub_packages_import_one_another_without_a_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in package_files():
        source = subpackage(module_name(path))
        for target, line, _ in imports_of(path):
            dest = subpackage(target)
            if source and dest and dest != source:
                graph[source].add(dest)
                where[source, dest].append(f"{path.relative_to(REPO)}:{line}")
    assert set(graph) & set(FLOWS), "no imports between the sub-packages found: the parsing is broken"
    cycle = find_cycle(graph)
    assert cycle is None, f"the sub-packages import one another in a circle:\n{explain(cycle, where)}"


def test_no_module_level_import_cycle_between_modules():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in package_files():
        source = module_name(path)
        for target, line, module_level in imports_of(path):
            if module_level and target != source and is_package_module(target):
                graph[source].add(target)
                where[source, target].append(f"{path.relative_to(REPO)}:{line}")
    assert graph, "no imports between the package's modules found: the parsing is broken"
    cycle = find_cycle(graph)
    assert cycle is None, f"modules import one another in a circle at import time:\n{explain(cycle, where)}"


def test_the_static_imports_point_down_only():
    """What the fresh-interpreter checks see, for imports inside functions too (they run only when called): the
    foundations import no flow, colorize and predict neither train nor evaluate, and nothing below the entry points
    imports them."""
    forbidden = {part: {*FLOWS, ENTRY} for part in FOUNDATIONS}
    forbidden.update({flow: {ENTRY} for flow in FLOWS})
    forbidden["colorize"] |= {"train", "evaluate"}
    forbidden["predict"] |= {"train", "evaluate"}
    wrong = []
    for path in package_files():
        source = subpackage(module_name(path))
        for target, line, _ in imports_of(path):
            if subpackage(target) in forbidden.get(source, ()):
                wrong.append(f"{path.relative_to(REPO)}:{line} ({source}) imports {target}")
    assert not wrong, "imports that point up or sideways into training/evaluation:\n" + "\n".join(wrong)
