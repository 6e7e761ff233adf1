"""autograde/'s layout: its import graph has no cycle and no import that crosses a zone the wrong way.

The zones, and what each may import of autograde (the one table; docs/GRADING.md draws it):

    spec        autograde/spec.py: what an assignment folder imports      nothing
    sandboxed   autograde/sandboxed/: runs in the student's kernel        spec, sandboxed
    shared      config.py, cells.py, notebook_html.py, safe_html.py       shared
    build       autograde/build/: the instructor's build                  spec, sandboxed, shared
    grade       autograde/grade/: the grading engine                      spec, sandboxed, shared, build
    results     autograde/results/: intake, gradebook, feedback, export   spec, shared, build, grade
    cli         cli.py, __main__.py                                       everything

The walk reads every import statement (top level or inside a function) with `ast`, so a lazy import
counts as an edge like any other.
"""

from __future__ import annotations

import ast

from autograde.config import ROOT

PACKAGE = ROOT / "autograde"
ZONES = {                      # zone: the module names (or package prefixes) in it
    "spec": ["autograde.spec"],
    "sandboxed": ["autograde.sandboxed"],
    "shared": ["autograde.config", "autograde.cells", "autograde.notebook_html", "autograde.safe_html"],
    "build": ["autograde.build"],
    "grade": ["autograde.grade"],
    "results": ["autograde.results"],
    "cli": ["autograde.cli", "autograde.__main__", "autograde"],
}
ALLOWED = {
    "spec": set(),
    "sandboxed": {"spec", "sandboxed"},
    "shared": {"shared"},
    "build": {"spec", "sandboxed", "shared", "build"},
    "grade": {"spec", "sandboxed", "shared", "build", "grade"},
    "results": {"spec", "shared", "build", "grade", "results"},
    "cli": set(ZONES),
}
# What the grading sandbox mounts of autograde/ (grade/sandbox.py's course_paths, warm_kernels.ZYGOTE)
SANDBOX_VISIBLE = ["autograde/__init__.py", "autograde/spec.py", "autograde/sandboxed/__init__.py",
                   "autograde/sandboxed/recorder.py", "autograde/sandboxed/kernel.py",
                   "autograde/sandboxed/zygote.py"]
MAX_TOP_LEVEL = 12


def modules() -> dict[str, object]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def imports(name: str, path) -> set[str]:
    """The autograde modules `name` imports (a package import counts as its __init__)."""
    mods = modules()
    out = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            if not target.startswith("autograde"):
                continue
            if target in mods:
                out.add(target)
                continue
            while target and target not in mods:      # `from pkg import function`
                target = target.rpartition(".")[0]
            if target:
                out.add(target)
    out.discard(name)
    # importing a module runs the __init__ of each package above it: that is no edge of interest
    return {t for t in out if not name.startswith(t + ".")}


def graph() -> dict[str, set[str]]:
    return {name: imports(name, path) for name, path in modules().items()}


def zone(name: str) -> str:
    best = max((p for z in ZONES.values() for p in z if name == p or name.startswith(p + ".")),
               key=len)
    return next(z for z, prefixes in ZONES.items() if best in prefixes)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-loops."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_zone():
    assert all(zone(name) for name in modules())


def test_no_import_cycle():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_crosses_a_zone_the_wrong_way():
    wrong = [f"{name} ({zone(name)}) imports {target} ({zone(target)})"
             for name, targets in graph().items() for target in sorted(targets)
             if zone(target) not in ALLOWED[zone(name)]]
    assert wrong == []


def test_the_zone_check_catches_a_wrong_import():
    assert zone("autograde.build.release") == "build" and zone("autograde.grade.verdict") == "grade"
    assert "grade" not in ALLOWED["build"] and "results" not in ALLOWED["grade"]
    assert zone("autograde.sandboxed.recorder") == "sandboxed" and "grade" not in ALLOWED["sandboxed"]


def test_what_the_sandbox_sees_imports_nothing_else_of_autograde():
    """A kernel has only these files of autograde/: each may import only the others."""
    edges = graph()
    visible = {".".join((ROOT / p).relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for p in SANDBOX_VISIBLE}
    for name in visible:
        assert edges[name] <= visible, (name, edges[name] - visible)
    for init in ("autograde/__init__.py", "autograde/sandboxed/__init__.py"):
        tree = ast.parse((ROOT / init).read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))], init


def test_the_sandbox_mounts_what_the_kernel_imports():
    from autograde.grade import sandbox, warm_kernels
    mounted = {p.relative_to(ROOT).as_posix() for p in sandbox.course_paths()}
    assert set(SANDBOX_VISIBLE) - {"autograde/sandboxed/zygote.py"} <= mounted
    assert warm_kernels.ZYGOTE.relative_to(ROOT).as_posix() == "autograde/sandboxed/zygote.py"


def test_a_few_modules_at_the_top():
    top = [p for p in PACKAGE.iterdir() if p.suffix == ".py"]
    assert len(top) <= MAX_TOP_LEVEL, sorted(p.name for p in top)
