"""The package's layers (README: How the code is organised): which subpackage may import which,
and no import cycle between modules."""

import ast
from pathlib import Path

import chanpos

ROOT = Path(chanpos.__file__).parent
BOTTOM = {"errors", "files", "_lazy", "names", "interrupts"}
# subpackage -> the chanpos subpackages and modules it may import
ALLOWED = {
    "ops": BOTTOM | {"ops"},
    "models": BOTTOM | {"models", "ops"},
    "data": BOTTOM | {"data", "ops"},
    "probes": BOTTOM | {"probes", "models", "data", "ops"},
    "training": BOTTOM | {"training", "models", "ops"},
    # statistics only: nothing of chanpos but its errors
    "verdicts": {"errors", "verdicts"},
    # the run framework: knows no experiment, imports no tool
    "runs": BOTTOM | {"runs", "training", "ops"},
    "experiments": BOTTOM | {"experiments", "runs", "verdicts", "training", "probes", "data",
                             "models", "ops"},
    "tools": BOTTOM | {"tools", "runs", "probes", "data", "models", "ops"},
    "cli": BOTTOM | {"cli", "runs"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported chanpos module, at module level?) for every import in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    top = set(id(n) for n in tree.body)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = [name] + [f"{name}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for n in names:
            if n.startswith("chanpos"):
                out.append((n, id(node) in top))
    return out


def _files() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_no_import_goes_against_the_layers() -> None:
    bad = []
    for path in _files():
        rel = path.relative_to(ROOT).parts
        layer = rel[0] if len(rel) > 1 else None
        if layer is None:
            continue
        for name, _ in _imports(path):
            target = name.split(".")[1] if "." in name else ""
            if target and target not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def _package_of(module: str, floor: str) -> str | None:
    """`chanpos.<floor>.<name>` -> name (the experiment or tool a module belongs to)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == floor else None


def test_no_experiment_imports_another_and_no_tool_another() -> None:
    bad = []
    for path in _files():
        mine = _module_name(path)
        for floor in ("experiments", "tools"):
            own = _package_of(mine, floor)
            if own is None:
                continue
            for name, _ in _imports(path):
                other = _package_of(name, floor)
                if other is not None and other != own:
                    bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_verdicts_never_import_torch() -> None:
    for path in (ROOT / "verdicts").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] in ("torch", "lightning")], path


def test_no_import_cycle_between_modules() -> None:
    modules = {_module_name(p): p for p in _files()}
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        deps = set()
        for name, at_top in _imports(path):
            if not at_top:
                continue  # function-level imports run after every module is loaded
            while name and name not in modules:
                name = name.rsplit(".", 1)[0] if "." in name else ""
            if name and name != mod and not mod.startswith(name + "."):
                deps.add(name)
        graph[mod] = deps
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)
